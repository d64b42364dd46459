// Storage and import failures are shown as their own sentences (STORAGE_*, IMPORT_INVALID), never
// as a bug or a lost GPU. IndexedDB is stood in by an idb whose reads and writes fail.

import { describe, expect, it, vi } from 'vitest';
import { conversationsFromFile } from '../../src/features/chat/conversationFile.ts';
import { ConversationStore } from '../../src/features/chat/conversationStore.ts';

const failing = {
  getAll: () => Promise.reject(new DOMException('The operation failed for reasons unrelated to the database itself.', 'UnknownError')),
  get: () => Promise.reject(new DOMException('The operation failed for reasons unrelated to the database itself.', 'UnknownError')),
  transaction: () => {
    throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
  },
};
vi.mock('idb', () => ({ openDB: () => Promise.resolve(failing) }));

const remembered = new Map<string, string>();
vi.stubGlobal('localStorage', {
  getItem: (key: string) => remembered.get(key) ?? null,
  setItem: (key: string, value: string) => remembered.set(key, value),
  removeItem: (key: string) => remembered.delete(key),
});

describe('storage failures', () => {
  it('a failed read of the conversations shows the storage sentence', async () => {
    const store = new ConversationStore();
    await store.init();
    expect(store.getState().storageError).toBe('Reading from the browser storage failed; reload the page to try again (what is saved stays saved).');
  });

  it('a save on a full disk shows the sentence about a full storage', async () => {
    const store = new ConversationStore();
    store.create();
    await vi.waitFor(() => expect(store.getState().storageError).toMatch(/^The browser's storage for this page is full: delete old conversations/));
  });
});

describe('import failures', () => {
  it('a file that is not JSON is refused as IMPORT_INVALID with its sentence', async () => {
    await expect(conversationsFromFile(new Blob(['not json']))).rejects.toMatchObject({
      code: 'IMPORT_INVALID',
      message: 'This file is not a conversation exported from Endless Chat: it is not valid JSON.',
    });
  });

  it('a file the browser can no longer read is refused as IMPORT_INVALID, asking to pick it again', async () => {
    const gone = { text: () => Promise.reject(new DOMException('The requested file could not be read.', 'NotReadableError')) } as unknown as Blob;
    await expect(conversationsFromFile(gone)).rejects.toMatchObject({ code: 'IMPORT_INVALID', message: expect.stringMatching(/pick it again\.$/) });
  });
});
