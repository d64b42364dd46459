// Conversations in IndexedDB (their shape is in records.ts): loading, saving and deleting
// them. A conversation is one record, messages included, so a save is all or nothing. Each save
// checks the revision it started from, so a tab holding an older copy never overwrites another
// tab's newer one. A reply that was still streaming when the page went away loads as 'interrupted'.

import { announceChange } from './changes.ts';
import { chatDb, reading, writing } from './db.ts';
import type { StoredConversation } from './records.ts';

export interface Saved {
  revision: number;
  /** Another tab's version that this save replaced, kept as a new conversation. */
  keptCopy?: StoredConversation;
}

/** All conversations, newest first. A reply left streaming is marked here, not in storage: the
 * tab writing it may still be at work. */
export async function loadConversations(): Promise<StoredConversation[]> {
  const db = await chatDb();
  const all = (await reading(() => db.getAll('conversations'))).map(markInterrupted).map(dropOldPicture);
  return all.sort((a, b) => b.updatedAt - a.updatedAt);
}

export async function loadConversation(id: string): Promise<StoredConversation | undefined> {
  const db = await chatDb();
  const conversation = await reading(() => db.get('conversations', id));
  return conversation && dropOldPicture(conversation);
}

/** A cache picture saved before the ring came drawn by the engine (it carried `ringHead`) cannot be
 *  drawn: the conversation loads without it, and its next reply draws a new one. */
function dropOldPicture(conversation: StoredConversation): StoredConversation {
  if (!conversation.lastCache || conversation.lastCache.ring) return conversation;
  const { lastCache: _old, ...rest } = conversation;
  return rest;
}

function markInterrupted(conversation: StoredConversation): StoredConversation {
  if (!conversation.messages.some((m) => m.status === 'streaming')) return conversation;
  return { ...conversation, messages: conversation.messages.map((m) => (m.status === 'streaming' ? { ...m, status: 'interrupted' } : m)) };
}

/**
 * Saves in one transaction. When the stored revision is not the one `conversation` started from,
 * another tab saved in between: its version is kept as a new conversation rather than lost.
 */
export async function saveConversation(conversation: StoredConversation): Promise<Saved> {
  const db = await chatDb();
  const saved = await writing(async () => {
    const tx = db.transaction('conversations', 'readwrite');
    const stored = await tx.store.get(conversation.id);
    const storedRevision = stored?.revision ?? 0;
    let keptCopy: StoredConversation | undefined;
    if (stored && storedRevision !== (conversation.revision ?? 0)) {
      keptCopy = { ...stored, id: crypto.randomUUID(), title: `${stored.title} (changed in another tab)`, renamed: true, revision: 1 };
      await tx.store.put(keptCopy);
    }
    const revision = Math.max(storedRevision, conversation.revision ?? 0) + 1;
    await tx.store.put({ ...conversation, revision });
    await tx.done;
    return { revision, keptCopy };
  });
  announceChange(conversation.id);
  return saved;
}

/** Stores new conversations (an import of many) in one transaction: all of them, or on a failure none. */
export async function saveNewConversations(conversations: readonly StoredConversation[]): Promise<void> {
  const db = await chatDb();
  await writing(async () => {
    const tx = db.transaction('conversations', 'readwrite');
    // add(), not put(): a conversation already stored fails the whole transaction rather than being replaced.
    await Promise.all([...conversations.map((c) => tx.store.add({ ...c, revision: 1 })), tx.done]);
  });
  for (const c of conversations) announceChange(c.id);
}

export async function deleteConversation(id: string): Promise<void> {
  const db = await chatDb();
  await writing(async () => {
    const tx = db.transaction(['conversations', 'snapshots'], 'readwrite');
    await Promise.all([tx.objectStore('conversations').delete(id), tx.objectStore('snapshots').delete(id), tx.done]);
  });
  announceChange(id);
}
