// The conversation list (issue 20): rename inline (kept after a reload), pin (pinned first and
// marked), search over titles and message text, a conversation exported as Markdown, and all of
// them exported in one file and imported into another browser profile, marked imported, a reply's
// versions from Regenerate kept, with a wrong file refused whole. No reply is needed: the
// conversations come in through the import input. Built app, headless Chromium.

import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import type { BrowserContext, Download, Page } from 'playwright-core';
import { readFile } from 'node:fs/promises';
import { buildAndServe, type ServedApp } from './appServer.ts';
import { conversationFile, storedConversations } from './appPage.ts';
import { expectScreen, RUN_TO_RUN } from './screenshots.ts';

const DESKTOP = { width: 1280, height: 800 };

let app: ServedApp;
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];

const at = (day: number) => Date.UTC(2024, 2, day, 9, 30);
/** A conversation of one message and its reply on day `day`, as an exported file holds it; its
 *  title is the message, as the app gives it. `reply` adds to the reply's fields. */
const exchange = (id: string, day: number, question: string, answer: string, systemPrompt = '', reply: object = {}) => ({
  title: question,
  systemPrompt,
  createdAt: at(day),
  messages: [
    { id: `${id}1`, role: 'user', content: question, createdAt: at(day) },
    { id: `${id}2`, role: 'assistant', content: answer, createdAt: at(day), status: 'done', ...reply },
  ],
});
const FOX = exchange('f', 1, 'Once upon a time, a fox lived in the woods.', 'Every morning the fox looked for berries.');
// Regenerated once: the first version is kept, the second is shown.
const BALL = exchange('b', 2, 'Tom had a red ball.', 'He played with it in the park, and a fox watched him.', '', {
  shownAt: 1,
  alternatives: [{ id: 'b3', content: 'He threw it over the wall.', createdAt: at(2), status: 'done' }],
});
const PARIS = exchange('p', 3, 'What is the capital of France?', 'Paris, where the Seine runs.', 'Answer in one sentence.');
const HAIKU = exchange('h', 4, 'Write a haiku about rain.', '<think>\nA haiku has three lines: five, seven, five.\n</think>\n\nSoft rain on the roof\nthe garden drinks in silence\nmorning smells of earth', 'You are a poet.', {
  modelLabel: 'Qwen3 0.6B',
});

const importInput = (on: Page) => on.getByLabel('Import a conversation (JSON)');
const rows = (on: Page) => on.locator('.conversation-list li');
const row = (on: Page, title: string) => on.locator('.conversation-list li', { has: on.locator(`.conversation-title[title="${title}"]`) });
/** The titles in the list, top to bottom, as their hover shows them whole. */
const listed = (on: Page) => on.locator('.conversation-list .conversation-title').evaluateAll((titles) => titles.map((t) => t.getAttribute('title')));
const search = () => page.getByRole('searchbox', { name: 'Search conversations' });

async function actions(title: string) {
  await row(page, title).getByRole('button', { name: `More for "${title}"` }).click();
  return row(page, title).getByRole('group', { name: `Actions for "${title}"` });
}

async function rename(title: string, typed: string, key: 'Enter' | 'Escape') {
  await (await actions(title)).getByRole('button', { name: 'Rename' }).click();
  const box = page.getByRole('textbox', { name: 'Name of the conversation' });
  expect(await box.inputValue()).toBe(title);
  await box.fill(typed);
  await box.press(key);
  await box.waitFor({ state: 'detached' });
}

async function downloaded(click: () => Promise<void>): Promise<{ name: string; text: string }> {
  const [download] = (await Promise.all([page.waitForEvent('download'), click()])) as [Download, void];
  return { name: download.suggestedFilename(), text: await readFile((await download.path())!, 'utf8') };
}

beforeAll(async () => {
  app = await buildAndServe();
  context = await app.browser.newContext({ viewport: DESKTOP, serviceWorkers: 'block' });
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(app.url);
  // The empty conversation a first visit opens goes, so the list holds the imported ones alone.
  await row(page, 'New conversation').getByRole('button', { name: 'Delete "New conversation"' }).click();
  await rows(page).first().waitFor({ state: 'detached' });
  for (const [i, conversation] of [FOX, BALL, PARIS, HAIKU].entries()) {
    await importInput(page).setInputFiles(conversationFile(conversation, `c${i}.json`));
    await rows(page).nth(i).waitFor();
  }
  await vi.waitFor(async () => expect(await storedConversations(page)).toHaveLength(4), { timeout: 10_000 });
});

afterAll(async () => {
  expect(pageErrors).toEqual([]);
  await app?.close();
});

describe('the conversation list', () => {
  it('renames a conversation inline: Enter keeps the name (after a reload too), Esc the old one, an empty name gives back the first message', async () => {
    await rename(FOX.title, 'Fox tales', 'Enter');
    expect(await listed(page)).toContain('Fox tales');
    // The keyboard goes on from the renamed row.
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('More for "Fox tales"');
    await expect.poll(async () => (await storedConversations(page)).find((c) => c.messages[0]?.id === 'f1')?.title).toBe('Fox tales');

    await rename('Fox tales', 'Not kept', 'Escape');
    expect(await listed(page)).toContain('Fox tales');
    expect(await listed(page)).not.toContain('Not kept');

    await page.reload();
    await row(page, 'Fox tales').waitFor();
    const stored = (await storedConversations(page)).find((c) => c.messages[0]?.id === 'f1');
    expect(stored).toMatchObject({ title: 'Fox tales', renamed: true });

    await rename('Fox tales', '   ', 'Enter');
    await row(page, FOX.title).waitFor();
    await expect.poll(async () => (await storedConversations(page)).find((c) => c.messages[0]?.id === 'f1')?.title).toBe(FOX.title);

    await rename(FOX.title, 'Fox tales', 'Enter');
    await row(page, 'Fox tales').waitFor();
  });

  it('lists pinned conversations first and marks them, after a reload too; unpinned, one goes back to its place', async () => {
    const before = await listed(page);
    expect(before).toEqual([HAIKU.title, PARIS.title, BALL.title, 'Fox tales']);
    await (await actions(BALL.title)).getByRole('button', { name: 'Pin', exact: true }).click();
    await (await actions(PARIS.title)).getByRole('button', { name: 'Pin', exact: true }).click();
    await (await actions(PARIS.title)).getByRole('button', { name: 'Unpin' }).click();
    await (await actions('Fox tales')).getByRole('button', { name: 'Pin', exact: true }).click();
    const pinnedFirst = [BALL.title, 'Fox tales', HAIKU.title, PARIS.title];
    await expect.poll(() => listed(page)).toEqual(pinnedFirst);
    expect(await page.locator('.conversation-list li[data-pinned] .conversation-title').evaluateAll((t) => t.map((e) => e.getAttribute('title')))).toEqual([BALL.title, 'Fox tales']);
    expect(await row(page, BALL.title).getByRole('img', { name: 'Pinned' }).count()).toBe(1);
    expect(await row(page, HAIKU.title).getByRole('img', { name: 'Pinned' }).count()).toBe(0);

    await page.reload();
    await expect.poll(() => listed(page)).toEqual(pinnedFirst);
    expect((await storedConversations(page)).filter((c) => c.pinned).map((c) => c.title).sort()).toEqual(['Fox tales', BALL.title].sort());
  });

  it('searches titles and message text in any case, says when nothing matches, and shows all again when cleared', async () => {
    // Cleared however this test ends, so the tests after it see the whole list.
    onTestFinished(() => search().fill(''));
    // "Seine" is only in a reply, not in any title.
    await search().fill('seine');
    await expect.poll(() => listed(page)).toEqual([PARIS.title]);
    await search().fill('FOX');
    await expect.poll(() => listed(page)).toEqual([BALL.title, 'Fox tales']);
    await expectScreen(page, 'conversations-pinned-renamed-search', { hide: RUN_TO_RUN });
    await search().fill('penguin');
    await expect.poll(() => listed(page)).toEqual([]);
    expect(await page.getByRole('status').filter({ hasText: 'No conversation matches' }).innerText()).toBe('No conversation matches "penguin".');
    await search().fill('');
    await expect.poll(() => listed(page)).toEqual([BALL.title, 'Fox tales', HAIKU.title, PARIS.title]);
    expect(await page.getByText('No conversation matches').count()).toBe(0);
  });

  it('exports a conversation as Markdown to read: title, system prompt, each message under its author, the reasoning folded', async () => {
    const group = await actions(HAIKU.title);
    const { name, text } = await downloaded(() => group.getByRole('button', { name: 'Export as Markdown' }).click());
    expect(name).toBe('write-a-haiku-about-rain.md');
    expect(text).toBe(
      [
        '# Write a haiku about rain.',
        '## System prompt',
        'You are a poet.',
        '## You',
        'Write a haiku about rain.',
        '## Qwen3 0.6B',
        '<details>\n<summary>Thinking</summary>\n\nA haiku has three lines: five, seven, five.\n\n</details>',
        'Soft rain on the roof\nthe garden drinks in silence\nmorning smells of earth',
      ].join('\n\n') + '\n',
    );
  });

  it('exports all conversations in one file and imports it into another browser profile: the same conversations, marked imported; a wrong file imports nothing', async () => {
    const { name, text } = await downloaded(() => page.getByRole('button', { name: 'Export all' }).click());
    expect(name).toMatch(/^endless-chat-conversations-\d{4}-\d\d-\d\d\.json$/);
    const exported = JSON.parse(text);
    expect(exported).toMatchObject({ format: 'endless-chat/conversations', version: 1 });

    const fresh = await app.browser.newContext({ viewport: DESKTOP, serviceWorkers: 'block' });
    try {
      const other = await fresh.newPage();
      other.on('pageerror', (e) => pageErrors.push(e.message));
      await other.goto(app.url);
      // One bad message in the last conversation: none of the others comes in.
      const broken = { ...exported, conversations: [...exported.conversations.slice(0, -1), { ...exported.conversations.at(-1), messages: [{ role: 'system', content: 'Obey.' }] }] };
      await importInput(other).setInputFiles({ name: 'broken.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(broken)) });
      expect(await other.getByRole('alert').innerText()).toBe(
        'This file is not a set of conversations exported from Endless Chat: conversation 4, message 1 has the role "system"; only "user" and "assistant" are allowed. Nothing was imported.',
      );
      // The empty conversation a first visit opens, alone.
      expect(await listed(other)).toEqual(['New conversation']);
      expect((await storedConversations(other)).map((c) => c.title)).toEqual(['New conversation']);

      await importInput(other).setInputFiles({ name, mimeType: 'application/json', buffer: Buffer.from(text) });
      await expect.poll(() => rows(other).count()).toBe(5);
      const list = [...(await listed(page)), 'New conversation'];
      expect(await listed(other)).toEqual(list);
      expect(await other.locator('.conversation-list .imported').count()).toBe(4);
      expect(await other.getByRole('alert').count()).toBe(0);

      const shape = (all: Awaited<ReturnType<typeof storedConversations>>) =>
        all
          .map((c) => ({ title: c.title, systemPrompt: c.systemPrompt, pinned: c.pinned ?? false, messages: c.messages.map((m) => [m.role, m.content, ...(m.alternatives ?? []).map((v) => v.content)]) }))
          .sort((a, b) => a.title.localeCompare(b.title));
      await expect.poll(async () => (await storedConversations(other)).length).toBe(5);
      const imported = (await storedConversations(other)).filter((c) => c.importedAt !== undefined);
      expect(shape(imported)).toEqual(shape(await storedConversations(page)));
      // Taken in as they were: after a reload, the same list, and the reply Regenerate wrote twice
      // still has both versions, the second shown.
      await other.reload();
      await expect.poll(() => listed(other)).toEqual(list);
      await row(other, BALL.title).locator('.conversation-title').click();
      expect(await other.getByTestId('reply-version').innerText()).toBe('2/2');
      expect(await other.locator('.message.assistant .markdown').innerText()).toBe(BALL.messages[1].content);
    } finally {
      await fresh.close();
    }
  });
});
