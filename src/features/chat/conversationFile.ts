// Export and import of conversations: one as a JSON file or as Markdown to read, or all of them in
// one JSON file. Imports are untrusted: every field is checked and only known fields are kept (text
// stays text; it is rendered, never executed), and a file with one bad part is refused whole.

import { EngineError } from '../../protocol/errors.ts';
import type { ReplyStats } from '../../protocol/messages.ts';
import type { ReplyStatus, ReplyVersion, StoredConversation, StoredMessage } from '../../storage/records.ts';
import { newId, titleFromMessages } from './conversationStore.ts';
import { splitThinking } from './thinking.ts';

const FORMAT = 'endless-chat/conversation';
const ALL_FORMAT = 'endless-chat/conversations';
/** The file version this page writes and reads; a newer one may mean fields it would misread. */
const VERSION = 1;

type Exported = Pick<StoredConversation, 'title' | 'systemPrompt' | 'createdAt' | 'messages'>;

interface ConversationFile {
  format: typeof FORMAT;
  version: typeof VERSION;
  conversation: Exported;
}

interface ConversationsFile {
  format: typeof ALL_FORMAT;
  version: typeof VERSION;
  exportedAt: number;
  conversations: (Exported & { pinned?: boolean })[];
}

const exported = ({ title, systemPrompt, createdAt, messages }: StoredConversation): Exported => ({ title, systemPrompt, createdAt, messages });

export function conversationToJson(conversation: StoredConversation): string {
  const file: ConversationFile = { format: FORMAT, version: VERSION, conversation: exported(conversation) };
  return JSON.stringify(file, null, 2);
}

/** All conversations in one file, pins kept: a backup, or a move to another browser. */
export function conversationsToJson(conversations: readonly StoredConversation[], exportedAt = Date.now()): string {
  const file: ConversationsFile = {
    format: ALL_FORMAT,
    version: VERSION,
    exportedAt,
    conversations: conversations.map((c) => (c.pinned ? { ...exported(c), pinned: true } : exported(c))),
  };
  return JSON.stringify(file, null, 2);
}

/** A file name from the title: letters and digits of any script, the rest as dashes. */
export function conversationFileName(conversation: StoredConversation, kind: 'json' | 'md' = 'json'): string {
  const slug = conversation.title.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '-').replace(/^-|-$/g, '').slice(0, 40).replace(/-$/, '') || 'conversation';
  return kind === 'json' ? `${slug}.endless-chat.json` : `${slug}.md`;
}

export function conversationsFileName(date = new Date()): string {
  const day = `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, '0')}-${String(date.getDate()).padStart(2, '0')}`;
  return `endless-chat-conversations-${day}.json`;
}

const NOTES: Partial<Record<ReplyStatus, string>> = { stopped: 'Stopped.', interrupted: 'Cut off: the page was closed or reloaded while it was written.' };

/**
 * The conversation to read: its title, the system prompt, and each message under its author as a
 * heading ("You", or the model's name as the app shows it). A reply's reasoning stays folded under
 * "Thinking", as on screen.
 */
export function conversationToMarkdown(conversation: StoredConversation): string {
  const parts = [`# ${oneLine(conversation.title)}`];
  if (conversation.systemPrompt.trim()) parts.push('## System prompt', conversation.systemPrompt.trim());
  for (const message of conversation.messages) {
    if (message.role === 'user') {
      parts.push('## You', message.content.trim());
      continue;
    }
    parts.push(`## ${oneLine(message.modelLabel ?? 'Model')}`);
    const { thinking, answer } = splitThinking(message.content);
    if (thinking !== null) parts.push(`<details>\n<summary>Thinking</summary>\n\n${thinking}\n\n</details>`);
    if (answer.trim()) parts.push(answer.trim());
    const note = message.status === 'failed' ? (message.error ?? 'This reply failed.') : message.status && NOTES[message.status];
    if (note) parts.push(`*${note}*`);
  }
  return `${parts.join('\n\n')}\n`;
}

/** A heading holds one line: a title or a name with line breaks would end it early. */
const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim();

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const STATUSES: ReplyStatus[] = ['done', 'stopped', 'interrupted', 'failed'];

/** What is wrong in a file, said once the file's kind is known (see conversationsFromJson). */
class Invalid {
  constructor(readonly why: string) {}
}
const refuse = (why: string): never => {
  throw new Invalid(why);
};

/** The conversations in a file the user picked: one, or all those of an "export all". */
export async function conversationsFromFile(file: Blob): Promise<StoredConversation[]> {
  let text: string;
  try {
    text = await file.text();
  } catch (e) {
    throw new EngineError('IMPORT_INVALID', 'The file could not be read (it may have been moved or changed since it was picked); pick it again.', String(e));
  }
  return conversationsFromJson(text);
}

const NOT_ONE = 'This file is not a conversation exported from Endless Chat';

/** New conversations (fresh ids, marked imported) from an exported file's text, either format.
 *  The first thing wrong refuses the whole file: it is taken whole or not at all. */
export function conversationsFromJson(text: string): StoredConversation[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new EngineError('IMPORT_INVALID', `${NOT_ONE}: it is not valid JSON.`);
  }
  if (!isRecord(data) || (data.format !== FORMAT && data.format !== ALL_FORMAT)) {
    throw new EngineError('IMPORT_INVALID', `${NOT_ONE}: it has no "format": "${FORMAT}" or "${ALL_FORMAT}".`);
  }
  if (isNumber(data.version) && data.version > VERSION) {
    throw new EngineError('IMPORT_INVALID', `This file was saved by a newer version of Endless Chat (file version ${data.version}): reload this page to update it, then import the file again.`);
  }
  const all = data.format === ALL_FORMAT;
  try {
    if (data.version !== VERSION) refuse(`its "version" is ${JSON.stringify(data.version) ?? 'missing'}, where this page reads version ${VERSION}.`);
    return all ? readAll(data) : [readConversation(isRecord(data.conversation) ? data.conversation : refuse('it has no "conversation".'), null, Date.now())];
  } catch (e) {
    if (!(e instanceof Invalid)) throw e;
    throw new EngineError('IMPORT_INVALID', all ? `This file is not a set of conversations exported from Endless Chat: ${e.why} Nothing was imported.` : `${NOT_ONE}: ${e.why}`);
  }
}

function readAll(data: Record<string, unknown>): StoredConversation[] {
  if (!Array.isArray(data.conversations)) return refuse('it has no list of "conversations".');
  const now = Date.now();
  return data.conversations.map((c, i) => {
    if (!isRecord(c)) return refuse(`conversation ${i + 1} is not an object.`);
    // A millisecond apart, so that after a reload the list keeps the file's order (newest first).
    const conversation = { ...readConversation(c, `conversation ${i + 1}`, now), updatedAt: now - i };
    return c.pinned === true ? { ...conversation, pinned: true } : conversation;
  });
}

/** `which` ("conversation 3") names the conversation in a file of many, so a refusal says where. */
function readConversation(c: Record<string, unknown>, which: string | null, now: number): StoredConversation {
  if (!Array.isArray(c.messages)) return refuse(`${which ?? 'it'} has no list of messages.`);
  const seen = new Set<string>();
  const unique = <T extends { id: string }>(item: T): T => {
    if (seen.has(item.id)) item.id = newId();
    seen.add(item.id);
    return item;
  };
  const messages = c.messages.map((m, i) => {
    const message = unique(readMessage(m, `${which ? `${which}, ` : ''}message ${i + 1}`));
    message.alternatives?.forEach(unique);
    return message;
  });
  const derived = titleFromMessages(messages);
  const title = typeof c.title === 'string' && c.title.trim() ? c.title.slice(0, 200) : derived;
  return {
    id: newId(),
    title,
    // A title the exporter gave it stays; one that only named its first message follows it, as here.
    renamed: title !== derived,
    systemPrompt: typeof c.systemPrompt === 'string' ? c.systemPrompt : '',
    messages,
    createdAt: isNumber(c.createdAt) ? c.createdAt : now,
    updatedAt: now,
    importedAt: now,
  };
}

function readMessage(m: unknown, which: string): StoredMessage {
  if (!isRecord(m)) return refuse(`${which} is not an object.`);
  if (m.role !== 'user' && m.role !== 'assistant') return refuse(`${which} has the role ${JSON.stringify(m.role)}; only "user" and "assistant" are allowed.`);
  if (typeof m.content !== 'string') return refuse(`${which} has no text content.`);
  const message: StoredMessage = {
    id: typeof m.id === 'string' && m.id ? m.id.slice(0, 100) : newId(),
    role: m.role,
    content: m.content,
    createdAt: isNumber(m.createdAt) ? m.createdAt : Date.now(),
  };
  if (m.role === 'assistant') {
    // A reply exported mid-stream was cut off all the same.
    message.status = m.status === 'streaming' ? 'interrupted' : STATUSES.find((s) => s === m.status) ?? 'done';
    if (typeof m.error === 'string') message.error = m.error;
    if (typeof m.modelLabel === 'string') message.modelLabel = m.modelLabel;
    const stats = readStats(m.stats);
    if (stats) message.stats = stats;
    // The exporter's cache notes ("rebuilt", "restored") told of its cache, not of this browser's: dropped.
    const versions = Array.isArray(m.alternatives) ? m.alternatives.map((v, i) => readVersion(v, `${which}, version ${i + 1}`)) : [];
    if (versions.length > 0) {
      message.alternatives = versions;
      message.shownAt = isNumber(m.shownAt) ? Math.min(Math.max(0, Math.round(m.shownAt)), versions.length) : versions.length;
    }
  }
  return message;
}

/** Another version Regenerate kept of a reply: read as a reply of its own, without versions. */
function readVersion(v: unknown, which: string): ReplyVersion {
  if (!isRecord(v)) return refuse(`${which} is not an object.`);
  const { role: _role, ...version } = readMessage({ ...v, role: 'assistant', alternatives: undefined }, which);
  return version;
}

function readStats(s: unknown): ReplyStats | undefined {
  if (!isRecord(s)) return undefined;
  const { prefillTokens, prefillMs, decodeTokens, decodeMs, timeToFirstTokenMs, msPerToken } = s;
  if (![prefillTokens, prefillMs, decodeTokens, decodeMs, timeToFirstTokenMs].every(isNumber)) return undefined;
  if (!Array.isArray(msPerToken) || !msPerToken.every(isNumber)) return undefined;
  return { prefillTokens, prefillMs, decodeTokens, decodeMs, timeToFirstTokenMs, msPerToken } as ReplyStats;
}
