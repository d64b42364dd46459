// The conversation list's search and order: a search matches every word, in any case, in the title
// or in the text of any message; pinned conversations come first, each part keeping its order.

import { describe, expect, it } from 'vitest';
import { inListOrder, matchesSearch } from '../../src/features/chat/conversationStore.ts';
import type { StoredConversation } from '../../src/storage/records.ts';

const conversation = (id: string, title: string, texts: string[], pinned?: boolean): StoredConversation => ({
  id,
  title,
  pinned,
  systemPrompt: 'Speak like a pirate.',
  messages: texts.map((content, i) => ({ id: `${id}-${i}`, role: i % 2 ? 'assistant' : 'user', content, createdAt: i })),
  createdAt: 0,
  updatedAt: 0,
});

const fox = conversation('fox', 'Once upon a time', ['Once upon a time, a fox lived in the woods.', 'The Fox liked BERRIES and naps.']);

describe('searching the conversations', () => {
  it('matches a word of the title or of any message, in any case', () => {
    expect(matchesSearch(fox, 'upon')).toBe(true);
    expect(matchesSearch(fox, 'berries')).toBe(true);
    expect(matchesSearch(fox, 'WOODS')).toBe(true);
    expect(matchesSearch(fox, 'Fox Li')).toBe(true);
  });

  it('needs every word of the search, each anywhere', () => {
    expect(matchesSearch(fox, '  naps   time ')).toBe(true);
    expect(matchesSearch(fox, 'naps owl')).toBe(false);
  });

  it('does not match what is in neither the title nor a message (the system prompt is not searched)', () => {
    expect(matchesSearch(fox, 'owl')).toBe(false);
    expect(matchesSearch(fox, 'pirate')).toBe(false);
  });

  it('matches every conversation with an empty search', () => {
    expect(matchesSearch(fox, '')).toBe(true);
    expect(matchesSearch(fox, '   ')).toBe(true);
    expect(matchesSearch(conversation('empty', 'New conversation', []), '')).toBe(true);
  });
});

describe('the order of the list', () => {
  it('puts pinned conversations first, each part in the order it had', () => {
    const list = [conversation('a', 'A', []), conversation('b', 'B', [], true), conversation('c', 'C', []), conversation('d', 'D', [], true)];
    expect(inListOrder(list).map((c) => c.id)).toEqual(['b', 'd', 'a', 'c']);
    expect(inListOrder([conversation('a', 'A', []), conversation('c', 'C', [])]).map((c) => c.id)).toEqual(['a', 'c']);
  });
});
