// The records the app's IndexedDB database holds, as their shapes alone: the schema (db.ts) and the
// modules that read and write each store (conversations.ts, snapshots.ts) all name them.

import type { CacheSnapshot, CacheState, ChatMessage, ExperimentResult, FinishReason, ReplyStats, SyncHow } from '../protocol/messages.ts';

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
  /** Replies only: the other versions Regenerate kept, in the order they were written; the
   *  message itself is the shown one, the one the next turn's prompt reads. */
  alternatives?: ReplyVersion[];
  /** Where the shown version sits among all of them, counted from 0 (with `alternatives`). */
  shownAt?: number;
}

/** A kept version of a reply: everything the message says of it. */
export type ReplyVersion = Omit<StoredMessage, 'role' | 'alternatives' | 'shownAt'>;

export interface StoredConversation {
  id: string;
  /** The user's own title when `renamed`, else the first message's start (kept in step by the store). */
  title: string;
  renamed?: boolean;
  /** Shown above the others. */
  pinned?: boolean;
  /** When it was imported from a file: an imported copy is marked as one. */
  importedAt?: number;
  systemPrompt: string;
  messages: StoredMessage[];
  createdAt: number;
  updatedAt: number;
  /** The cache as last reported for this conversation, so out-of-window marks survive a reload. */
  lastCache?: CacheState;
  /** Counts saves: the one a save starts from must still be the stored one (absent: never saved). */
  revision?: number;
}

export interface StoredSnapshot {
  conversationId: string;
  settingsKey: string;
  savedAt: number;
  snapshot: CacheSnapshot;
}

export interface StoredExperiment {
  id: string;
  savedAt: number;
  result: ExperimentResult;
}
