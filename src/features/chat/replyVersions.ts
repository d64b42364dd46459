// A reply's versions: Regenerate keeps the reply it replaces beside the new one, and the arrows
// under the last reply choose which one is shown. The message record is the shown version, so the
// transcript, exports and records saved before versions existed read it as ever; the others wait
// in `alternatives`.

import type { ReplyVersion, StoredMessage } from '../../storage/records.ts';

/** Every version of a reply in the order written, the shown one in its place. */
export function versionsOf(message: StoredMessage): ReplyVersion[] {
  const { role: _role, alternatives = [], shownAt, ...shown } = message;
  const at = Math.min(Math.max(0, shownAt ?? alternatives.length), alternatives.length);
  return [...alternatives.slice(0, at), shown, ...alternatives.slice(at)];
}

/** Which version is shown, counted from 0, and how many there are. */
export function versionPlace(message: StoredMessage): { at: number; count: number } {
  const count = (message.alternatives?.length ?? 0) + 1;
  return { at: Math.min(Math.max(0, message.shownAt ?? count - 1), count - 1), count };
}

/** The reply showing its version `index` (the same reply when there is none such). */
export function showVersion(message: StoredMessage, index: number): StoredMessage {
  const versions = versionsOf(message);
  return index >= 0 && index < versions.length ? withVersions(versions, index) : message;
}

/** `reply`, written in place of `replaced`, shown after the versions of it that have text (one
 *  stopped before its first word has nothing to go back to). */
export function replacing(replaced: StoredMessage | undefined, reply: StoredMessage): StoredMessage {
  const kept = replaced?.role === 'assistant' ? versionsOf(replaced).filter((v) => v.content !== '') : [];
  const { role: _role, alternatives: _alternatives, shownAt: _shownAt, ...fresh } = reply;
  return withVersions([...kept, fresh], kept.length);
}

function withVersions(versions: ReplyVersion[], at: number): StoredMessage {
  const shown: StoredMessage = { ...versions[at], role: 'assistant' };
  const alternatives = versions.filter((_, i) => i !== at);
  return alternatives.length > 0 ? { ...shown, alternatives, shownAt: at } : shown;
}

/** The id of a reply's first version: it stays while versions are switched and added, so the
 *  message is not redrawn from scratch and the arrow pressed keeps the focus. */
export const firstVersionId = (message: StoredMessage): string => (message.alternatives?.length && (message.shownAt ?? 1) > 0 ? message.alternatives[0].id : message.id);
