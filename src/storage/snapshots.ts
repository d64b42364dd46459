// KV cache snapshots in IndexedDB: only the latest per conversation, and only for one model and
// cache setting at a time (they can be large, and no other setting could restore them).

import { cacheIdentity } from '../protocol/cache.ts';
import type { CacheChoice, CacheSnapshot } from '../protocol/messages.ts';
import { chatDb, reading, writing } from './db.ts';

const SETTINGS_META = 'snapshot-settings';

/** Names a model and cache setting; snapshots are kept for one such key at a time. */
export function snapshotSettingsKey(modelKey: string, cache: CacheChoice): string {
  return `${modelKey}|${cacheIdentity(cache)}`;
}

/** Drops every snapshot taken under another model or cache setting. */
export async function keepSnapshotsFor(settingsKey: string): Promise<void> {
  const db = await chatDb();
  if ((await reading(() => db.get('meta', SETTINGS_META))) === settingsKey) return;
  await writing(async () => {
    const tx = db.transaction(['snapshots', 'meta'], 'readwrite');
    await Promise.all([tx.objectStore('snapshots').clear(), tx.objectStore('meta').put(settingsKey, SETTINGS_META), tx.done]);
  });
}

export async function saveSnapshot(settingsKey: string, snapshot: CacheSnapshot): Promise<void> {
  const db = await chatDb();
  await writing(() => db.put('snapshots', { conversationId: snapshot.conversationId, settingsKey, savedAt: Date.now(), snapshot }));
}

export async function loadSnapshot(conversationId: string, settingsKey: string): Promise<CacheSnapshot | undefined> {
  const db = await chatDb();
  const stored = await reading(() => db.get('snapshots', conversationId));
  return stored?.settingsKey === settingsKey ? stored.snapshot : undefined;
}

export async function dropSnapshot(conversationId: string): Promise<void> {
  const db = await chatDb();
  await writing(() => db.delete('snapshots', conversationId));
}
