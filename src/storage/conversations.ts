// Conversations as saved in IndexedDB: their persisted shape, and loading, saving and deleting
// them. A reply that was still streaming when the page went away is loaded as 'interrupted'.

import type { CacheState, ChatMessage, FinishReason, ReplyStats, SyncHow } from '../protocol/messages.ts';
import { chatDb, writing } from './db.ts';

export type ReplyStatus = 'streaming' | 'done' | 'stopped' | 'interrupted' | 'failed';

export interface SyncNote {
  how: SyncHow;
  reason: string;
  prefillTokens: number;
}

export interface StoredMessage extends ChatMessage {
  createdAt: number;
  /** Replies only: where generation stands or how it ended. */
  status?: ReplyStatus;
  finishReason?: FinishReason;
  stats?: ReplyStats;
  /** How the engine brought its cache in step with the transcript before this reply. */
  sync?: SyncNote;
  /** The sentence of the error that ended a failed reply. */
  error?: string;
  modelLabel?: string;
}

export interface StoredConversation {
  id: string;
  title: string;
  systemPrompt: string;
  messages: StoredMessage[];
  createdAt: number;
  updatedAt: number;
  /** The cache as last reported for this conversation, so out-of-window marks survive a reload. */
  lastCache?: CacheState;
}

/** All conversations, newest first. */
export async function loadConversations(): Promise<StoredConversation[]> {
  const db = await chatDb();
  const all = await db.getAll('conversations');
  const interrupted = all.filter((c) => c.messages.some((m) => m.status === 'streaming'));
  for (const conversation of interrupted) {
    conversation.messages = conversation.messages.map((m) => (m.status === 'streaming' ? { ...m, status: 'interrupted' } : m));
    await writing(() => db.put('conversations', conversation));
  }
  return all.sort((a, b) => b.updatedAt - a.updatedAt);
}

export async function saveConversation(conversation: StoredConversation): Promise<void> {
  const db = await chatDb();
  await writing(() => db.put('conversations', conversation));
}

export async function deleteConversation(id: string): Promise<void> {
  const db = await chatDb();
  await writing(async () => {
    const tx = db.transaction(['conversations', 'snapshots'], 'readwrite');
    await Promise.all([tx.objectStore('conversations').delete(id), tx.objectStore('snapshots').delete(id), tx.done]);
  });
}
