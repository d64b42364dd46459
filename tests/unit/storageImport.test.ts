// An imported conversation never replaces one already kept: a file cannot choose its id, and the
// store gives any conversation whose id is taken a new one.

import { describe, expect, it, vi } from 'vitest';
import { conversationsFromJson } from '../../src/features/chat/conversationFile.ts';
import { ConversationStore } from '../../src/features/chat/conversationStore.ts';
import type { StoredConversation } from '../../src/storage/records.ts';

// The store remembers the open conversation in localStorage, which Node lacks. Without IndexedDB
// its saves fail and say so, which these tests do not look at.
const remembered = new Map<string, string>();
vi.stubGlobal('localStorage', {
  getItem: (key: string) => remembered.get(key) ?? null,
  setItem: (key: string, value: string) => remembered.set(key, value),
  removeItem: (key: string) => remembered.delete(key),
});

function storeWithOne(): { store: ConversationStore; existing: StoredConversation } {
  const store = new ConversationStore();
  const created = store.create();
  store.setMessages(created.id, [{ id: 'greeting', role: 'user', content: 'Hello there.', createdAt: 1 }]);
  return { store, existing: store.get(created.id)! };
}

describe('importing a conversation file', () => {
  it('gives a file that names an existing conversation, its revision and its messages a new conversation id', () => {
    const { existing } = storeWithOne();
    const file = JSON.stringify({
      format: 'endless-chat/conversation',
      version: 1,
      conversation: { id: existing.id, revision: 99, title: 'Impostor', messages: [{ id: 'greeting', role: 'user', content: 'Overwritten?' }] },
    });
    const [imported] = conversationsFromJson(file);
    expect(imported.id).not.toBe(existing.id);
    expect(imported.revision).toBeUndefined();
    expect(imported.title).toBe('Impostor');
  });

  it('adds a conversation whose id is taken under a new id, leaving the one it named untouched', () => {
    const { store, existing } = storeWithOne();
    const impostor: StoredConversation = { ...existing, title: 'Impostor', revision: 7, messages: [{ id: 'greeting', role: 'user', content: 'Overwritten?', createdAt: 2 }] };
    const added = store.add(impostor);
    const { conversations, activeId } = store.getState();
    expect(added.id).not.toBe(existing.id);
    expect(added.revision).toBeUndefined();
    expect(conversations).toHaveLength(2);
    expect(store.get(existing.id)).toEqual(existing);
    expect(store.get(added.id)?.messages.map((m) => m.content)).toEqual(['Overwritten?']);
    expect(activeId).toBe(added.id);
  });

  it("drops the exporter's cache notes: they told of its cache, not of this browser's", () => {
    const file = JSON.stringify({
      format: 'endless-chat/conversation',
      version: 1,
      conversation: {
        title: 'Told elsewhere',
        messages: [
          { id: 'q', role: 'user', content: 'Once upon a time' },
          { id: 'a', role: 'assistant', content: ', a cat.', sync: { how: 'rebuilt', reason: 'Rebuilt the cache from the transcript.', prefillTokens: 68 } },
        ],
      },
    });
    const [imported] = conversationsFromJson(file);
    expect(imported.messages[1].content).toBe(', a cat.');
    expect(imported.messages[1].sync).toBeUndefined();
  });
});
