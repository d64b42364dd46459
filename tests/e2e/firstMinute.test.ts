// The first minute of a new user, in the built app (headless Chromium, SwiftShader): the built-in
// stories260K chats after one click with nothing fetched from outside the app; the conversation
// stays readable and editable beside the picker; a local model comes back after a reload and a
// take-over without a file dialog; a reply cut at the length limit says so and continues; the
// memory panel follows a settings change and a long read; regenerate rolls back twice after a
// rebuild; and all of it by keyboard. Each screen is compared with its reference in
// tests/e2e/screenshots/ (tests/e2e/screenshots.ts), what differs run to run hidden.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { buildAndServe, type ServedApp } from './appServer.ts';
import { expectScreen, RUN_TO_RUN } from './screenshots.ts';
import { applySettings, composer, loadLocalStories, modelReady, modelStatus, replies, replyFinished, sendAndWait, streaming, syncDetail } from './appPage.ts';

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

let app: ServedApp;
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];
/** Requests of the page, its worker and its service worker to any origin but the app's. */
const outside: string[] = [];

/** Every screen here is a main screen: compared with its reference. */
const screen = (name: string, on: Page = page) => expectScreen(on, name, { hide: RUN_TO_RUN });
/** How long the built-in model may take to be ready. */
const READY = 90_000;
const activeId = (on: Page = page) => on.evaluate(() => document.activeElement?.id ?? '');
const numberIn = async (testId: string) => Number((await page.getByTestId(testId).innerText()).replace(/,/g, ''));

async function newPage(target: BrowserContext): Promise<Page> {
  const opened = await target.newPage();
  opened.on('pageerror', (e) => pageErrors.push(e.message));
  await opened.goto(app.url);
  return opened;
}

/** Presses `key` until `done` holds, at most `limit` times; returns the number of presses. */
async function pressUntil(on: Page, key: string, done: () => Promise<boolean>, limit = 60): Promise<number> {
  for (let presses = 1; presses <= limit; presses++) {
    await on.keyboard.press(key);
    if (await done()) return presses;
  }
  throw new Error(`${key} pressed ${limit} times without reaching the target`);
}

const focusedName = (on: Page) => on.evaluate(() => {
  const el = document.activeElement as HTMLElement | null;
  return el?.getAttribute('aria-label') ?? el?.textContent?.trim() ?? '';
});

/** Story text of about 30 tokens per sentence. */
const storyText = (sentences: number, from = 0) =>
  Array.from({ length: sentences }, (_, i) => `On day ${from + i}, Tom and Sue went to the park and played with a big red ball.`).join(' ');

beforeAll(async () => {
  app = await buildAndServe();
  context = await app.browser.newContext({ viewport: DESKTOP });
  const appOrigin = new URL(app.url).origin;
  // Every request to another origin (the hub included) is counted and refused: nothing here needs one.
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (new URL(url).origin === appOrigin || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
    outside.push(url);
    return route.abort();
  });
  page = await newPage(context);
});

afterAll(async () => {
  await app?.close();
});

describe('the first minute, with the built-in model', () => {
  it('offers the built-in model first, beside the empty conversation, and chats after one click with nothing fetched from outside the app', async () => {
    await page.getByRole('heading', { name: 'Choose a model' }).waitFor();
    expect(await modelStatus(page)).toBe('No model loaded');
    const tryIt = page.getByRole('button', { name: 'Try it now' });
    expect(await tryIt.isVisible()).toBe(true);
    expect(await page.getByText('Try it now: a 1 MiB story model').isVisible()).toBe(true);
    expect(await page.getByText("writes children's stories").isVisible()).toBe(true);
    // The conversation column keeps its room beside the picker.
    const messagesBox = await page.locator('.chat-view .messages').boundingBox();
    const pickerBox = await page.locator('.picker-column').boundingBox();
    expect(messagesBox!.height).toBeGreaterThan(400);
    expect(pickerBox!.x).toBeGreaterThanOrEqual(messagesBox!.x + messagesBox!.width - 1);
    expect(await page.locator('.memory-column').isVisible()).toBe(false); // the picker takes the memory panel's place
    await screen('first-screen-desktop');

    await tryIt.click();
    await modelReady(page, 'stories260K', READY);
    // The next thing to do is write: the message box has the focus.
    expect(await activeId()).toBe('message-box');
    await page.keyboard.type('Once upon a time, a little cat');
    await page.keyboard.press('Enter');
    await streaming(page).waitFor({ state: 'attached', timeout: 10_000 });
    await replyFinished(page);
    expect(await replies(page).last().getAttribute('data-status')).toBe('done');
    expect((await replies(page).last().locator('.markdown').innerText()).length).toBeGreaterThan(10);
    expect(outside).toEqual([]);
    await screen('built-in-first-reply');
  });

  it('says when a reply hit the length limit, and Continue writes on in the same reply', async () => {
    await applySettings(page, { 'Max tokens per reply': '12' });
    await modelReady(page, 'stories260K', READY);
    await sendAndWait(page, 'Once upon a time, there was a big dog named Max. He liked to run.');
    const notice = page.getByTestId('length-limit');
    await notice.waitFor();
    expect(await notice.innerText()).toContain('This reply stopped at the length limit (12 tokens)');
    await screen('length-limit-continue');
    const count = await replies(page).count();
    const before = await replies(page).last().locator('.markdown').innerText();
    await notice.getByRole('button', { name: 'Continue' }).click();
    await streaming(page).waitFor({ state: 'attached', timeout: 10_000 });
    await replyFinished(page);
    const after = await replies(page).last().locator('.markdown').innerText();
    expect(await replies(page).count()).toBe(count);
    expect(after.startsWith(before)).toBe(true);
    expect(after.length).toBeGreaterThan(before.length);
    // The same stream went on: no rebuild, no roll-back.
    expect(await replies(page).last().locator('.sync-notice').count()).toBe(0);
  });

  it('after a rebuild, regenerate rolls the cache back twice instead of rebuilding it', async () => {
    await applySettings(page, { 'Attention sinks': '4', 'Window (tokens)': '64', 'Max tokens per reply': '16' });
    await modelReady(page, 'stories260K', READY);
    // Longer than twice the window in characters: the long-message choice is asked, and made.
    await composer(page).fill(storyText(5));
    await page.getByTestId('long-rule').getByRole('radio', { name: /^All of it/ }).check();
    await composer(page).press('Enter');
    await streaming(page).waitFor({ state: 'attached', timeout: 10_000 });
    await replyFinished(page);
    // A new system prompt makes the next reply rebuild the cache: its first 4 and last 64 tokens,
    // skipping the rest of the transcript.
    await page.locator('.system-prompt summary').click();
    const prompt = page.getByRole('textbox', { name: 'System prompt' });
    await prompt.fill('A story for children.');
    await composer(page).click();
    await sendAndWait(page, 'The next day, Tom found a little bird in the garden.');
    expect(await syncDetail(replies(page).last())).toMatch(/^Cache rebuilt/i);

    for (const round of [1, 2]) {
      await replies(page).last().getByRole('button', { name: 'Regenerate' }).click();
      await streaming(page).waitFor({ state: 'attached', timeout: 10_000 });
      await replyFinished(page);
      const notice = (await syncDetail(replies(page).last())) ?? '';
      expect(notice, `regenerate ${round}`).toMatch(/^Cache rolled back/i);
      expect(notice).not.toMatch(/rebuilt/i);
    }
    await screen('regenerate-after-rebuild-rolls-back');
  });

  it('redraws the memory panel at once after a settings change, and moves it while a long message is read', async () => {
    const windowFact = () => page.getByTestId('memory-summary').innerText();
    await expect.poll(windowFact).toMatch(/the last 64 tokens/);
    await applySettings(page, { 'Window (tokens)': '100' });
    await modelReady(page, 'stories260K', READY);
    // Before any reply: the new window, an empty cache and the reason.
    await expect.poll(windowFact).toMatch(/the last 100 tokens/);
    expect(await page.getByTestId('memory-resized').isVisible()).toBe(true);
    expect(await numberIn('cache-tokens')).toBe(0);
    await screen('memory-after-settings-change');

    // A short turn first: the cache is rebuilt from the transcript; then a long one is read whole.
    await sendAndWait(page, 'Then Sue came home.');
    await composer(page).fill(storyText(60, 100));
    await page.getByTestId('long-rule').getByRole('radio', { name: /^All of it/ }).check();
    await composer(page).press('Enter');
    await streaming(page).waitFor({ state: 'attached', timeout: 10_000 });
    const seen = new Set<number>();
    // While the message is read, the count of tokens in the cache climbs.
    await expect
      .poll(
        async () => {
          if (await page.locator('.message .prefill').count()) seen.add(await numberIn('cache-tokens'));
          return seen.size;
        },
        { timeout: 120_000, interval: 200 },
      )
      .toBeGreaterThanOrEqual(3);
    await screen('memory-during-long-read');
    await replyFinished(page);
  });
});

describe('a message longer than the window', () => {
  it('asks before sending how to read it, reads all of it with the time left or only what the model keeps, and remembers the choice', async () => {
    await page.getByRole('button', { name: 'New conversation' }).click();
    await sendAndWait(page, 'Once upon a time, a fox lived in the woods.');
    const choice = page.getByTestId('long-rule');
    const all = page.getByRole('radio', { name: /^All of it/ });
    const kept = page.getByRole('radio', { name: /^Only what it will remember/ });

    // Read all of it: every token in order, with the time left, and no rebuild.
    await composer(page).fill(storyText(12, 300));
    await choice.waitFor();
    // Chosen for the long read above, and remembered.
    expect(await all.isChecked()).toBe(true);
    await screen('long-message-choice');
    await composer(page).press('Enter');
    await page.getByTestId('reading-note').filter({ hasText: /^Reading all [\d,]+ tokens in order, as you chose for this long message/ }).waitFor({ timeout: 60_000 });
    await page.getByTestId('reading-note').filter({ hasText: /s left\.$|min left\.$/ }).waitFor({ timeout: 60_000 });
    const line = await page.locator('.message .prefill').innerText();
    expect(Number(/\/ ([\d,]+) tokens/.exec(line)![1].replace(/,/g, ''))).toBeGreaterThan(300);
    await screen('long-message-reading-all');
    await replyFinished(page);
    expect(await replies(page).last().locator('.sync-notice').count()).toBe(0);

    // Only what the model keeps: the first 4 and the last 100 tokens, said in the reply's notice.
    await composer(page).fill(storyText(12, 400));
    await kept.check();
    await composer(page).press('Enter');
    await streaming(page).waitFor({ state: 'attached', timeout: 10_000 });
    await replyFinished(page);
    expect(await syncDetail(replies(page).last())).toMatch(/Read only what the model keeps: the first 4 and the last 100 of [\d,]+ tokens, as chosen for long messages\. \(104 tokens read\)/);

    // The choice is remembered across a reload.
    await page.reload();
    await modelReady(page, 'stories260K', READY);
    await composer(page).fill(storyText(12, 500));
    await choice.waitFor();
    expect(await kept.isChecked()).toBe(true);
    await composer(page).fill('');
  });
});

describe('no model loaded, a local model, phone width', () => {
  it('keeps the conversation and its system prompt usable beside the picker, on a desktop and a phone', async () => {
    // Forget the model, so the reload finds none: the picker opens beside the conversation.
    await page.evaluate(() => localStorage.removeItem('endless-chat:last-model'));
    await page.reload();
    await page.getByRole('heading', { name: 'Choose a model' }).waitFor();
    expect(await modelStatus(page)).toBe('No model loaded');
    expect(await replies(page).count()).toBeGreaterThan(2);
    const box = await page.locator('.chat-view .messages').boundingBox();
    expect(box!.height).toBeGreaterThan(400);
    await page.locator('.system-prompt summary').click();
    const prompt = page.getByRole('textbox', { name: 'System prompt' });
    await prompt.fill('A story for small children.');
    await composer(page).click();
    await expect.poll(() => page.locator('.system-prompt summary').innerText()).toContain('A story for small children.');
    await screen('no-model-conversation-beside-picker');

    await page.setViewportSize(PHONE);
    const phoneBox = await page.locator('.chat-view .messages').boundingBox();
    expect(phoneBox!.height).toBeGreaterThan(200);
    expect(await page.locator('.system-prompt summary').isVisible()).toBe(true);
    await page.getByRole('button', { name: 'Memory' }).click();
    expect(await page.getByTestId('memory-empty').isVisible()).toBe(true);
    await page.getByRole('button', { name: 'Memory' }).click();
    await screen('no-model-phone');
    await page.setViewportSize(DESKTOP);
  });

  it('keeps a model opened from local files: a reload and a take-over load it again without a file dialog', async () => {
    await loadLocalStories(page, READY);
    const remembered = () => page.evaluate(() => JSON.parse(localStorage.getItem('endless-chat:last-model') ?? 'null') as { kind: string; cacheId?: string } | null);
    expect(await remembered()).toEqual(expect.objectContaining({ kind: 'cached', cacheId: 'local:stories260K.bin:1056540' }));

    let fileDialogs = 0;
    page.on('filechooser', () => fileDialogs++);
    await page.reload();
    await modelReady(page, 'stories260K', READY);
    expect(fileDialogs).toBe(0);
    await sendAndWait(page, 'Once upon a time, a frog');
    expect(await replies(page).last().getAttribute('data-status')).toMatch(/^(done)$/);

    // Another tab takes over: it loads the same model by itself.
    const second = await newPage(context);
    await second.getByRole('button', { name: 'Use it here' }).click();
    await modelReady(second, 'stories260K', READY);
    await page.getByRole('heading', { name: 'Another tab took over the model' }).waitFor();
    await second.close();
    await page.getByRole('button', { name: 'Take it back' }).click();
    await modelReady(page, 'stories260K', READY);

    // The kept copy is listed, to load again or delete.
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByRole('button', { name: 'Change model…' }).click();
    const kept = page.getByText('stories260K (from this computer)');
    await kept.waitFor();
    await kept.scrollIntoViewIfNeeded();
    await screen('local-model-kept');
    await page.getByRole('button', { name: 'Cancel' }).click();
    expect(outside).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});

describe('the conversation list', () => {
  it('dates every title, and deletes at once with an undo instead of a browser dialog', async () => {
    const rows = page.locator('.conversation-list li');
    const count = await rows.count();
    expect(count).toBeGreaterThanOrEqual(2);
    for (const date of await page.locator('.conversation-date').allInnerTexts()) expect(date).toMatch(/\d/);
    let dialogs = 0;
    page.on('dialog', (d) => {
      dialogs++;
      void d.dismiss();
    });
    const title = await rows.first().locator('.conversation-title').innerText();
    await rows.first().getByRole('button', { name: /^Delete "/ }).click();
    await expect.poll(() => rows.count()).toBe(count - 1);
    const deleted = page.getByTestId('deleted');
    expect(await deleted.innerText()).toMatch(/^Deleted ".+"\.\s+Undo$/);
    await screen('conversation-deleted-undo');
    await deleted.getByRole('button', { name: 'Undo' }).click();
    await expect.poll(() => rows.count()).toBe(count);
    expect(await page.locator('.conversation-title', { hasText: title.split('\n')[0] }).count()).toBeGreaterThanOrEqual(1);
    expect(dialogs).toBe(0);
    // Undone means kept: it is still there after a reload.
    await page.reload();
    await modelReady(page, 'stories260K', READY);
    await expect.poll(() => rows.count()).toBe(count);
  });
});

describe('keyboard only', () => {
  it('loads the built-in model, writes, sends, stops and regenerates without a mouse', async () => {
    const fresh = await app.browser.newContext({ viewport: DESKTOP });
    const kb = await newPage(fresh);
    try {
      await kb.getByRole('heading', { name: 'Choose a model' }).waitFor();
      // The first Tab reaches the skip link.
      await kb.keyboard.press('Tab');
      expect(await focusedName(kb)).toBe('Skip to the message box');
      await pressUntil(kb, 'Tab', async () => (await focusedName(kb)) === 'Try it now');
      await kb.keyboard.press('Enter');
      await modelReady(kb, 'stories260K', READY);
      expect(await activeId(kb)).toBe('message-box');
      await kb.keyboard.type('Once upon a time, there was a little girl named Lily. She loved to play outside.');
      await kb.keyboard.press('Enter');
      await streaming(kb).waitFor({ state: 'attached', timeout: 10_000 });
      await expect.poll(async () => (await streaming(kb).locator('.markdown').allInnerTexts()).join('').length, { timeout: 60_000 }).toBeGreaterThan(0);
      await kb.keyboard.press('Escape');
      await replyFinished(kb);
      expect(await replies(kb).last().getAttribute('data-status')).toBe('stopped');
      await pressUntil(kb, 'Shift+Tab', async () => (await focusedName(kb)) === 'Regenerate');
      await kb.keyboard.press('Enter');
      await streaming(kb).waitFor({ state: 'attached', timeout: 10_000 });
      await replyFinished(kb);
      expect(await replies(kb).count()).toBe(1);
      await screen('keyboard-only', kb);
    } finally {
      await fresh.close();
    }
  });
});
