// The app's IndexedDB database (through idb): its schema, its one connection, and the
// translation of storage failures into EngineErrors a user can act on.

import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { EngineError } from '../protocol/errors.ts';
import type { StoredConversation, StoredExperiment, StoredSnapshot } from './records.ts';

export interface ChatDb extends DBSchema {
  conversations: { key: string; value: StoredConversation };
  /** The latest KV cache snapshot of each conversation, keyed by conversation id. */
  snapshots: { key: string; value: StoredSnapshot };
  /** Small named values, such as which model and cache settings the snapshots belong to. */
  meta: { key: string; value: string };
  /** Results of the Experiment view, kept to compare across models. Since version 2. */
  experiments: { key: string; value: StoredExperiment };
}

const DB_NAME = 'endless-chat';
let connection: Promise<IDBPDatabase<ChatDb>> | null = null;

export function chatDb(): Promise<IDBPDatabase<ChatDb>> {
  // Through then(): where IndexedDB is off, open() may throw rather than fail its request.
  connection ??= Promise.resolve()
    .then(() =>
      openDB<ChatDb>(DB_NAME, 2, {
        upgrade(db, oldVersion) {
          if (oldVersion < 1) {
            db.createObjectStore('conversations', { keyPath: 'id' });
            db.createObjectStore('snapshots', { keyPath: 'conversationId' });
            db.createObjectStore('meta');
          }
          if (oldVersion < 2) db.createObjectStore('experiments', { keyPath: 'id' });
        },
        // A newer version of the app opened in another tab waits for this connection: let it go
        // (the next storage call here opens the database again, at the newer version).
        blocking(_current, _next, event) {
          (event.target as IDBDatabase).close();
          connection = null;
        },
      }),
    )
    .catch((error: unknown) => {
      connection = null;
      throw new EngineError(
        'STORAGE_UNAVAILABLE',
        'This browser does not let the page keep conversations (IndexedDB is off, as in some private windows). Chat still works, but nothing is saved.',
        String(error),
      );
    });
  return connection;
}

/** Runs a write, turning a full disk into STORAGE_FULL and any other failure into STORAGE_UNAVAILABLE. */
export async function writing<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (error instanceof EngineError) throw error;
    if (error instanceof DOMException && error.name === 'QuotaExceededError') {
      throw new EngineError('STORAGE_FULL', "The browser's storage for this page is full: delete old conversations or free some disk space.", error.message);
    }
    throw new EngineError('STORAGE_UNAVAILABLE', 'Saving to the browser storage failed; the conversation is still on screen, try again.', String(error));
  }
}

/** Runs a read, turning its failure into STORAGE_UNAVAILABLE: a storage failure is never shown as a bug or a GPU fault. */
export async function reading<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof EngineError) throw error;
    throw new EngineError('STORAGE_UNAVAILABLE', 'Reading from the browser storage failed; reload the page to try again (what is saved stays saved).', String(error));
  }
}
