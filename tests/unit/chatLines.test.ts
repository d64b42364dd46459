// Small plain-word lines of the chat and the model picker: the draft's length against what the
// model remembers, the storage the kept models take, and a code block's language label.

import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { draftLengthLine } from '../../src/features/chat/longMessages.ts';
import { Markdown } from '../../src/features/chat/Markdown.tsx';
import { storageLine } from '../../src/features/models/storageUse.ts';

describe('draftLengthLine', () => {
  const cache = { nSinks: 4, windowSize: 2044 };
  it('says the count against the first and last tokens the model remembers', () => {
    expect(draftLengthLine(312, cache)).toBe('312 tokens · the model remembers the first 4 and the last 2,044');
    expect(draftLengthLine(1, cache)).toBe('1 token · the model remembers the first 4 and the last 2,044');
  });
  it('says when the draft is longer than that', () => {
    expect(draftLengthLine(2048, cache)).not.toMatch(/more than/);
    expect(draftLengthLine(2049, cache)).toBe('2,049 tokens · more than the model remembers: the first 4 and the last 2,044');
  });
});

describe('storageLine', () => {
  it('adds up the kept models, and says what the browser allows where it tells', () => {
    expect(storageLine([], { usage: 10, quota: 100 })).toBeNull();
    expect(storageLine([1024 * 1024], null)).toBe('This model takes 1.0 MiB in all.');
    expect(storageLine([1024 * 1024, 3 * 1024 * 1024], { usage: 5 * 1024 * 1024, quota: 2 * 1024 ** 3 })).toBe(
      'These 2 models take 4.0 MiB in all. This browser lets Endless Chat keep about 2.0 GiB; 5.0 MiB is used now, conversations included.',
    );
  });
});

describe('code block label', () => {
  const html = (text: string) => renderToStaticMarkup(createElement(Markdown, { text }));
  it("shows the fence's language beside the copy button", () => {
    expect(html('```python\nprint(1)\n```')).toMatch(/<div class="code-tools"><span class="code-language">python<\/span><button[^>]*aria-label="Copy code"/);
  });
  it('shows no label for a fence that names none', () => {
    expect(html('```\nplain\n```')).not.toContain('code-language');
  });
});
