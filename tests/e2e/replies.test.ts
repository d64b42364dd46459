// A reply's life after it is written (issue 20: regenerate keeps the earlier replies, and problem
// 13): Regenerate keeps each version behind ‹ 1/3 › arrows, IndexedDB keeps them over a reload,
// and the shown one is what the next turn reads, the cache rolled back to where the versions part;
// after Continue the stats count both parts; a reply stopped before its first word says so and
// Regenerate starts it again. Built app, headless Chromium, the built-in stories260K.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { buildAndServe, type ServedApp } from './appServer.ts';
import { applySettings, composer, HANG, modelReady, replies, replyFinished, sendAndWait, storedConversations, storedRecords, streaming, syncDetail, type StoredMessage } from './appPage.ts';
import { expectScreen, RUN_TO_RUN } from './screenshots.ts';

const DESKTOP = { width: 1280, height: 800 };
/** Short replies, one line each, sampled freely so that versions differ. */
const SETTINGS = { 'Max tokens per reply': '8', Temperature: '1' };

let app: ServedApp;
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];

const lastReply = () => replies(page).last();
const replyText = () => lastReply().locator('.markdown').innerText();
const versionShown = () => lastReply().getByTestId('reply-version').innerText();
const storedMessages = async (): Promise<StoredMessage[]> => (await storedConversations(page)).find((c) => c.messages.length > 0)?.messages ?? [];

/** What the saved cache of the conversation read: the messages the model saw, as it saw them. */
const snapshotHeld = async (on: Page) => (await storedRecords<{ id: string; content: string }[] | undefined>(on, 'snapshots', ['snapshot', 'held']))[0] ?? [];

async function regenerate(): Promise<void> {
  await lastReply().getByRole('button', { name: 'Regenerate' }).click();
  await streaming(page).waitFor({ state: 'attached', timeout: 10_000 });
  await replyFinished(page);
}

/** Story text of about 30 tokens per sentence. */
const storyText = (sentences: number) => Array.from({ length: sentences }, (_, i) => `On day ${i}, Tom and Sue went to the park and played with a big red ball.`).join(' ');

beforeAll(async () => {
  app = await buildAndServe();
  context = await app.browser.newContext({ viewport: DESKTOP, serviceWorkers: 'block' });
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(app.url);
});

afterAll(async () => {
  await app?.close();
});

describe('the versions of a reply', () => {
  it('keeps each regenerated version behind ‹ 3/3 ›, over a reload too, and the next turn reads the one shown, the cache rolled back to it', { timeout: 3 * HANG }, async () => {
    await page.getByRole('button', { name: 'Try it now' }).click();
    await modelReady(page);
    await applySettings(page, SETTINGS);
    await modelReady(page);
    await sendAndWait(page, 'Once upon a time, a little cat');
    const shown: string[] = [await replyText()];
    const written: string[] = [(await storedMessages())[1].content];
    for (const round of [2, 3]) {
      await regenerate();
      shown.push(await replyText());
      written.push((await storedMessages())[1].content);
      expect(await versionShown(), `after regenerate ${round - 1}`).toBe(`${round}/${round}`);
    }
    expect(new Set(written).size, written.join(' | ')).toBe(3);

    await lastReply().getByRole('button', { name: 'Previous version' }).click();
    expect(await versionShown()).toBe('2/3');
    expect(await replyText()).toBe(shown[1]);
    // The reply is the same one on screen, showing another version: the arrow keeps the focus.
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('Previous version');
    await expectScreen(page, 'reply-version-2-of-3', { hide: [...RUN_TO_RUN.filter((s) => s !== '.messages'), '.message.assistant .markdown', '.stats-line'] });
    await lastReply().getByRole('button', { name: 'Previous version' }).click();
    expect(await versionShown()).toBe('1/3');
    expect(await replyText()).toBe(shown[0]);
    expect(await lastReply().getByRole('button', { name: 'Previous version' }).isDisabled()).toBe(true);

    // IndexedDB holds every version and which one is shown: a reload finds them.
    await expect.poll(async () => (await storedMessages())[1]?.content).toBe(written[0]);
    expect((await storedMessages())[1].alternatives?.map((a) => a.content)).toEqual(written.slice(1));
    await page.reload();
    await modelReady(page);
    expect(await versionShown()).toBe('1/3');
    expect(await replyText()).toBe(shown[0]);

    // The next turn reads version 1: the saved cache held version 3, and rolls back to where they part.
    await sendAndWait(page, 'Then the cat ran home.');
    const messages = await storedMessages();
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    expect(messages[1].content).toBe(written[0]);
    await expect.poll(async () => (await snapshotHeld(page)).map((m) => m.content).slice(0, 3)).toEqual(['Once upon a time, a little cat', written[0], 'Then the cat ran home.']);
    const detail = (await syncDetail(lastReply())) ?? '';
    expect(detail).toMatch(/^Cache rolled back/);
    expect(detail).not.toMatch(/rebuilt/i);
    // The versions stay with the earlier reply; the arrows belong to the last one.
    expect(await replies(page).nth(0).getByTestId('reply-version').count()).toBe(0);
  });
});

describe('Continue', () => {
  it('counts both parts of the reply under it: their tokens and their time', async () => {
    await sendAndWait(page, 'Once upon a time, there was a big dog named Max. He liked to');
    await page.getByTestId('length-limit').waitFor();
    const tokens = async () => Number((await lastReply().locator('.stats-line').innerText()).match(/^(\d+) tokens/)![1]);
    expect(await tokens()).toBe(8);
    const first = (await storedMessages()).at(-1) as StoredMessage & { stats: { decodeTokens: number; decodeMs: number; msPerToken: number[] } };
    await page.getByTestId('length-limit').getByRole('button', { name: 'Continue' }).click();
    await streaming(page).waitFor({ state: 'attached', timeout: 10_000 });
    await replyFinished(page);
    const whole = (await storedMessages()).at(-1) as typeof first;
    expect(whole.stats.msPerToken.slice(0, 8)).toEqual(first.stats.msPerToken);
    expect(whole.stats.decodeTokens).toBe(whole.stats.msPerToken.length);
    expect(whole.stats.decodeTokens).toBeGreaterThan(8);
    expect(whole.stats.decodeMs).toBeGreaterThan(first.stats.decodeMs);
    expect(await tokens()).toBe(whole.stats.decodeTokens);
  });
});

describe('Stop before the first word', () => {
  it('leaves a note where the reply would be, and Regenerate writes it', async () => {
    // Long enough to be read in several steps: Stop lands while it is read.
    await composer(page).fill(storyText(400));
    await page.getByTestId('long-rule').getByRole('radio', { name: /^All of it/ }).check();
    await composer(page).press('Enter');
    await streaming(page).waitFor({ state: 'attached', timeout: 10_000 });
    await page.locator('.message .prefill').waitFor({ timeout: HANG });
    await page.getByRole('button', { name: 'Stop (Esc)' }).click();
    await replyFinished(page);
    expect(await lastReply().getAttribute('data-status')).toBe('stopped');
    expect(await lastReply().locator('.markdown').count()).toBe(0);
    expect(await lastReply().getByText('Stopped before the reply began.').isVisible()).toBe(true);

    await regenerate();
    expect(await lastReply().getAttribute('data-status')).toBe('done');
    expect((await replyText()).length).toBeGreaterThan(0);
    // The empty reply left nothing to go back to.
    expect(await lastReply().getByTestId('reply-version').count()).toBe(0);
    expect(pageErrors).toEqual([]);
  });
});
