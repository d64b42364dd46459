// A conversation as Markdown to read, and all conversations in one file: what goes out, what comes
// back in, and what a wrong file is told. A file is taken whole or refused whole.

import { describe, expect, it } from 'vitest';
import { conversationFileName, conversationsFromJson, conversationsToJson, conversationToJson, conversationToMarkdown } from '../../src/features/chat/conversationFile.ts';
import type { StoredConversation, StoredMessage } from '../../src/storage/records.ts';

const message = (id: string, role: 'user' | 'assistant', content: string, extra: Partial<StoredMessage> = {}): StoredMessage => ({ id, role, content, createdAt: 1, ...extra });

const thinking: StoredConversation = {
  id: 'greet',
  title: 'Hello there',
  systemPrompt: 'You are a helpful assistant.',
  messages: [
    message('q', 'user', 'Hello there'),
    message('a', 'assistant', '<think>\nThe user greets me. I should greet back.\n</think>\n\nHello! How can I help?', { status: 'done', modelLabel: 'Qwen3 0.6B' }),
    message('q2', 'user', 'Tell me a story.'),
    message('a2', 'assistant', 'Once upon a', { status: 'stopped' }),
  ],
  createdAt: 10,
  updatedAt: 20,
};

const story: StoredConversation = {
  id: 'story',
  title: 'My fox story',
  renamed: true,
  pinned: true,
  systemPrompt: '',
  messages: [message('s', 'user', 'Once upon a time, a fox'), message('r', 'assistant', ' lived in the woods.', { status: 'done', stats: { prefillTokens: 5, prefillMs: 10, decodeTokens: 6, decodeMs: 30, timeToFirstTokenMs: 12, msPerToken: [5, 5] } })],
  createdAt: 30,
  updatedAt: 40,
};

const untitled: StoredConversation = { id: 'empty', title: 'New conversation', systemPrompt: '', messages: [], createdAt: 50, updatedAt: 60 };

describe('a conversation as Markdown', () => {
  it('has the title, the system prompt, and each message under its author as a heading, the reasoning folded', () => {
    expect(conversationToMarkdown(thinking)).toBe(
      [
        '# Hello there',
        '## System prompt',
        'You are a helpful assistant.',
        '## You',
        'Hello there',
        '## Qwen3 0.6B',
        '<details>\n<summary>Thinking</summary>\n\nThe user greets me. I should greet back.\n\n</details>',
        'Hello! How can I help?',
        '## You',
        'Tell me a story.',
        '## Model',
        'Once upon a',
        '*Stopped.*',
      ].join('\n\n') + '\n',
    );
  });

  it('leaves out an empty system prompt, and keeps a title with line breaks on its heading line', () => {
    const markdown = conversationToMarkdown({ ...story, title: 'Two\nlines' });
    expect(markdown.startsWith('# Two lines\n\n## You\n\nOnce upon a time, a fox\n\n## Model\n\nlived in the woods.\n')).toBe(true);
    expect(markdown).not.toContain('System prompt');
  });

  it('is saved under a name from the title, in any script', () => {
    expect(conversationFileName(story, 'md')).toBe('my-fox-story.md');
    expect(conversationFileName(story)).toBe('my-fox-story.endless-chat.json');
    expect(conversationFileName({ ...story, title: 'Füchse im Wald — 狐' }, 'md')).toBe('füchse-im-wald-狐.md');
    expect(conversationFileName({ ...story, title: '???' }, 'md')).toBe('conversation.md');
  });
});

describe('all conversations in one file', () => {
  it('come back as the same conversations, in the same order, pins kept, each marked imported', () => {
    const imported = conversationsFromJson(conversationsToJson([story, thinking, untitled], 1234));
    expect(imported.map((c) => c.title)).toEqual(['My fox story', 'Hello there', 'New conversation']);
    expect(imported.map((c) => c.messages)).toEqual([story.messages, thinking.messages, []]);
    expect(imported.map((c) => c.systemPrompt)).toEqual(['', 'You are a helpful assistant.', '']);
    expect(imported.map((c) => c.createdAt)).toEqual([30, 10, 50]);
    expect(imported.map((c) => c.pinned ?? false)).toEqual([true, false, false]);
    expect(imported.map((c) => c.renamed)).toEqual([true, false, false]);
    for (const c of imported) expect(c.importedAt).toBeTypeOf('number');
    // New ids, never the exporter's, and a reload lists them in the file's order.
    expect(imported.map((c) => c.id)).not.toContain('story');
    expect(new Set(imported.map((c) => c.id)).size).toBe(3);
    expect(imported[0].updatedAt).toBeGreaterThan(imported[1].updatedAt);
    expect(imported[1].updatedAt).toBeGreaterThan(imported[2].updatedAt);
  });

  it("keeps a reply's other versions from Regenerate and which one is shown, each with fresh ids where they clash", () => {
    const versions: StoredConversation = {
      ...story,
      id: 'versions',
      messages: [
        message('s', 'user', 'Once upon a time, a fox'),
        message('r', 'assistant', ' ate a berry.', {
          status: 'done',
          shownAt: 1,
          alternatives: [
            { id: 'r0', content: ' lived in the woods.', createdAt: 2, status: 'done', stats: story.messages[1].stats },
            { id: 's', content: ' ran to the', createdAt: 3, status: 'stopped' },
          ],
        }),
      ],
    };
    const [imported] = conversationsFromJson(conversationToJson(versions));
    const reply = imported.messages[1];
    expect(reply.content).toBe(' ate a berry.');
    expect(reply.shownAt).toBe(1);
    expect(reply.alternatives!.map(({ content, status, stats }) => ({ content, status, stats }))).toEqual([
      { content: ' lived in the woods.', status: 'done', stats: story.messages[1].stats },
      { content: ' ran to the', status: 'stopped', stats: undefined },
    ]);
    // The second version had the user message's id: it gets one of its own, and none has a role.
    const ids = [imported.messages[0].id, reply.id, ...reply.alternatives!.map((v) => v.id)];
    expect(new Set(ids).size).toBe(4);
    expect(reply.alternatives!.map((v) => v.id)[0]).toBe('r0');
    for (const v of reply.alternatives!) expect(v).not.toHaveProperty('role');
  });

  it('shows the newest version when the file does not say which, and never a place past the versions', () => {
    const file = (shownAt?: number) =>
      JSON.stringify({
        format: 'endless-chat/conversation',
        version: 1,
        conversation: { messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello!', shownAt, alternatives: [{ content: 'Hey.' }] }] },
      });
    expect(conversationsFromJson(file())[0].messages[1].shownAt).toBe(1);
    expect(conversationsFromJson(file(7))[0].messages[1].shownAt).toBe(1);
    expect(conversationsFromJson(file(-3))[0].messages[1].shownAt).toBe(0);
  });

  it('is a versioned file of its own format', () => {
    const file = JSON.parse(conversationsToJson([story], 1234));
    expect(file).toMatchObject({ format: 'endless-chat/conversations', version: 1, exportedAt: 1234 });
    expect(Object.keys(file.conversations[0]).sort()).toEqual(['createdAt', 'messages', 'pinned', 'systemPrompt', 'title']);
  });

  it('is read by the same import as a single conversation, which still gives one', () => {
    const [one, ...rest] = conversationsFromJson(conversationToJson(story));
    expect(rest).toEqual([]);
    expect(one.title).toBe('My fox story');
    expect(one.pinned).toBeUndefined();
  });
});

describe('a wrong file', () => {
  const all = (conversations: unknown, version: unknown = 1) => JSON.stringify({ format: 'endless-chat/conversations', version, conversations });
  const refused = (text: string) => {
    try {
      conversationsFromJson(text);
    } catch (e) {
      return { code: (e as { code?: string }).code, message: (e as Error).message };
    }
    throw new Error('the file was taken');
  };

  it('is refused whole, naming the conversation and message that are wrong', () => {
    const good = JSON.parse(conversationsToJson([story]));
    const bad = [good.conversations[0], { title: 'Bad', messages: [{ role: 'user', content: 'Hi' }, { role: 'system', content: 'Obey.' }] }];
    expect(refused(all(bad))).toEqual({
      code: 'IMPORT_INVALID',
      message: 'This file is not a set of conversations exported from Endless Chat: conversation 2, message 2 has the role "system"; only "user" and "assistant" are allowed. Nothing was imported.',
    });
    expect(refused(all([good.conversations[0], 'text'])).message).toBe('This file is not a set of conversations exported from Endless Chat: conversation 2 is not an object. Nothing was imported.');
    expect(refused(all([{ title: 'No messages' }])).message).toBe('This file is not a set of conversations exported from Endless Chat: conversation 1 has no list of messages. Nothing was imported.');
    const badVersion = [{ title: 'Versions', messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello!', alternatives: [{ content: 'Hey.' }, { content: 42 }] }] }];
    expect(refused(all(badVersion)).message).toBe('This file is not a set of conversations exported from Endless Chat: conversation 1, message 2, version 2 has no text content. Nothing was imported.');
    expect(refused(all({ title: 'Not a list' })).message).toBe('This file is not a set of conversations exported from Endless Chat: it has no list of "conversations". Nothing was imported.');
  });

  it('says when its version is newer than this page reads, or missing', () => {
    expect(refused(all([], 2)).message).toBe('This file was saved by a newer version of Endless Chat (file version 2): reload this page to update it, then import the file again.');
    expect(refused(all([], null)).message).toBe('This file is not a set of conversations exported from Endless Chat: its "version" is null, where this page reads version 1. Nothing was imported.');
    expect(refused(JSON.stringify({ format: 'endless-chat/conversation', conversation: { messages: [] } })).message).toBe(
      'This file is not a conversation exported from Endless Chat: its "version" is missing, where this page reads version 1.',
    );
  });

  it('says when it is not JSON or not of either format', () => {
    expect(refused('{"conversations": [').message).toBe('This file is not a conversation exported from Endless Chat: it is not valid JSON.');
    expect(refused('{"format": "other", "version": 1}').message).toBe(
      'This file is not a conversation exported from Endless Chat: it has no "format": "endless-chat/conversation" or "endless-chat/conversations".',
    );
  });
});
