// Storage faults in the built app, in headless Chromium: IndexedDB unavailable (a private window) or slow,
// the quota running out while a conversation is saved, an imported file that names an existing
// conversation, and two tabs writing the same and different conversations. What is stored is read
// straight from IndexedDB, so each test sees what a reload would find.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { buildAndServe, type ServedApp } from './appServer.ts';
import { applySettings, conversationFile, loadLocalStories, replies, sendAndWait, storedConversations, type StoredMessage } from './appPage.ts';

/** How long a reply (24 tokens at most here) may take. */
const REPLY = 120_000;

let app: ServedApp;
const pageErrors: string[] = [];

const consoleLines: string[] = [];

async function openApp(context: BrowserContext, before?: (page: Page) => Promise<void>): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  await before?.(page);
  await page.goto(app.url);
  return page;
}

/** Loads stories260K from local files, saying what the page showed if it never got ready, and keeps replies short. */
async function loadLocalModel(page: Page): Promise<void> {
  await loadLocalStories(page, 120_000).catch(async (e: Error) => {
    const dock = await page.locator('.dock').innerText().catch(() => '(no dock)');
    throw new Error(`${e.message}\nThe dock showed: ${dock}\nConsole:\n${consoleLines.slice(-20).join('\n')}`);
  });
  await applySettings(page, { 'Max tokens per reply': '24' });
}

async function setSystemPrompt(page: Page, text: string): Promise<void> {
  await page.locator('.system-prompt summary').click();
  const field = page.getByRole('textbox', { name: 'System prompt' });
  await field.fill(text);
  await field.blur();
}

/** Waits until no save has landed for a second (a reply ends with a few: the text, the cache state). */
async function settled(page: Page): Promise<void> {
  let last = '';
  await expect
    .poll(
      async () => {
        const now = JSON.stringify(await storedConversations(page));
        const same = now === last;
        last = now;
        return same;
      },
      { interval: 1000, timeout: 30_000 },
    )
    .toBe(true);
}

const withPrompt = async (page: Page, prompt: string) => (await storedConversations(page)).find((c) => c.systemPrompt === prompt);

beforeAll(async () => {
  app = await buildAndServe();
});

afterAll(async () => {
  await app?.close();
  expect(pageErrors).toEqual([]);
});

describe('with IndexedDB unavailable, as in some private windows', () => {
  it('still chats, with a banner saying that conversations are not saved', async () => {
    const context = await app.browser.newContext();
    await context.addInitScript(() => {
      IDBFactory.prototype.open = () => {
        throw new DOMException('IndexedDB is disabled in this window.', 'InvalidStateError');
      };
    });
    const page = await openApp(context);
    const banner = page.locator('.banners').getByRole('alert');
    await banner.filter({ hasText: 'Chat still works, but nothing is saved.' }).waitFor();
    await loadLocalModel(page);
    await sendAndWait(page, 'Once upon a time, there was a cat.', REPLY);
    const reply = replies(page).last();
    expect(await reply.getAttribute('data-status')).toBe('done');
    expect((await reply.locator('.markdown').innerText()).length).toBeGreaterThan(0);
    expect(await banner.innerText()).toContain('nothing is saved');
    await context.close();
  });
});

describe('with IndexedDB slow to open, as on a busy disk', () => {
  it('the model picker works before the conversations are read, and keeps what was entered in it once they are', async () => {
    const context = await app.browser.newContext();
    // Every IndexedDB open answers 3 s late (idb listens with addEventListener).
    await context.addInitScript(() => {
      const open = IDBFactory.prototype.open;
      IDBFactory.prototype.open = function (this: IDBFactory, ...args: Parameters<IDBFactory['open']>) {
        const request = open.apply(this, args);
        const listen = request.addEventListener.bind(request) as (type: string, listener: (e: Event) => void) => void;
        request.addEventListener = ((type: string, listener: (e: Event) => void) =>
          listen(type, type === 'success' ? (e: Event) => setTimeout(() => listener(e), 3000) : listener)) as typeof request.addEventListener;
        return request;
      };
    });
    const page = await openApp(context);
    const repo = page.getByLabel('Another model from the hub');
    await repo.fill('onnx-community/Qwen3-0.6B-ONNX');
    const conversations = page.locator('.conversation-list li');
    expect(await conversations.count()).toBe(0);
    // The store has read IndexedDB and opened a first, empty conversation.
    await conversations.first().waitFor({ timeout: 30_000 });
    expect(await repo.inputValue()).toBe('onnx-community/Qwen3-0.6B-ONNX');
    await context.close();
  });
});

describe('a full disk, imports and two tabs, in one browser profile', () => {
  let context: BrowserContext;
  let first: Page;

  beforeAll(async () => {
    context = await app.browser.newContext();
    // Stands in for a full disk: while the page sets __quotaFull, every IndexedDB put throws as
    // Chromium does when the origin's quota is used up.
    await context.addInitScript(() => {
      const put = IDBObjectStore.prototype.put;
      IDBObjectStore.prototype.put = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
        if ((window as unknown as { __quotaFull?: boolean }).__quotaFull) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
        return put.apply(this, args);
      };
    });
    first = await openApp(context);
    await loadLocalModel(first);
  });

  afterAll(async () => {
    await context?.close();
  });

  it('when the quota runs out mid-conversation, says so, keeps the saved version whole, and saves again once there is room', async () => {
    await sendAndWait(first, 'Tom had a red ball.', REPLY);
    await expect.poll(async () => (await storedConversations(first)).flatMap((c) => c.messages.map((m) => m.status ?? m.role))).toEqual(['user', 'done']);
    const before = (await storedConversations(first))[0];

    await first.evaluate(() => ((window as unknown as { __quotaFull: boolean }).__quotaFull = true));
    await sendAndWait(first, 'Sue had a blue kite.', REPLY);
    await first.locator('.banners').getByRole('alert').filter({ hasText: "The browser's storage for this page is full" }).waitFor();
    expect(await first.locator('.message').count()).toBe(4);
    expect(await storedConversations(first)).toEqual([before]);

    await first.evaluate(() => ((window as unknown as { __quotaFull: boolean }).__quotaFull = false));
    await setSystemPrompt(first, 'Tell short stories.');
    await first.locator('.banners').getByRole('alert').waitFor({ state: 'detached' });
    const after = await withPrompt(first, 'Tell short stories.');
    expect(after?.messages.map((m) => m.status ?? m.role)).toEqual(['user', 'done', 'user', 'done']);
    expect(after?.messages.slice(0, 2)).toEqual(before.messages);
  });

  it('imports a file naming an existing conversation and its messages as a new conversation, leaving that one untouched', async () => {
    const [existing] = await storedConversations(first);
    await first.getByLabel('Import a conversation (JSON)').setInputFiles(
      conversationFile({ id: existing.id, title: 'Impostor', systemPrompt: '', messages: [{ id: existing.messages[0].id, role: 'user', content: 'Overwritten?' }] }),
    );
    await expect.poll(async () => (await storedConversations(first)).length).toBe(2);
    const all = await storedConversations(first);
    expect(all.find((c) => c.id === existing.id)).toEqual(existing);
    const imported = all.find((c) => c.id !== existing.id)!;
    expect(imported.title).toBe('Impostor');
    expect(imported.messages.map((m) => m.content)).toEqual(['Overwritten?']);
    await first.locator('.conversation-list li', { hasText: 'Tom had a red ball.' }).locator('.conversation-title').click();
  });

  it('two tabs saving different conversations and the same one lose nothing, and never half of one', async () => {
    const second = await openApp(context);
    await second.getByRole('heading', { name: 'The model is running in another tab' }).waitFor();
    const story = (title: string) => conversationFile({ title, systemPrompt: '', messages: [{ role: 'user', content: `${title} begins.` }] });
    await Promise.all([
      first.getByLabel('Import a conversation (JSON)').setInputFiles(story('From the first tab')),
      second.getByLabel('Import a conversation (JSON)').setInputFiles(story('From the second tab')),
    ]);
    await expect.poll(async () => (await storedConversations(first)).map((c) => c.title).sort()).toEqual(['From the first tab', 'From the second tab', 'Impostor', 'Tom had a red ball.']);

    // The same conversation: the second tab follows the first tab's reply, so its edit keeps it.
    const open = (page: Page) => page.locator('.conversation-list li', { hasText: 'Tom had a red ball.' }).locator('.conversation-title').click();
    await open(first);
    await open(second);
    await sendAndWait(first, 'The ball rolled away.', REPLY);
    await settled(first);
    await expect.poll(() => second.locator('.message').count()).toBe(6);
    await setSystemPrompt(second, 'Answer in rhymes.');
    await expect.poll(async () => (await withPrompt(first, 'Answer in rhymes.'))?.messages.length).toBe(6);

    // A tab that misses the news (no BroadcastChannel) writes from an old copy: the first tab's
    // newer version is kept as its own conversation instead of being overwritten.
    const third = await openApp(context, async (page) => {
      await page.addInitScript(() => Reflect.deleteProperty(window, 'BroadcastChannel'));
    });
    await settled(first);
    await open(third);
    await expect.poll(() => third.locator('.message').count()).toBe(6);
    await sendAndWait(first, 'Tom ran after it.', REPLY);
    await settled(first);
    const newest = (await withPrompt(first, 'Answer in rhymes.'))!;
    expect(newest.messages).toHaveLength(8);
    await setSystemPrompt(third, 'Be kind.');
    await expect.poll(async () => (await withPrompt(first, 'Be kind.'))?.messages.length).toBe(6);
    const all = await storedConversations(first);
    const kept = all.find((c) => c.title === 'Tom had a red ball. (changed in another tab)');
    expect(kept?.messages).toEqual(newest.messages);
    expect(kept?.systemPrompt).toBe('Answer in rhymes.');
    expect(all).toHaveLength(5);
    const wellFormed = (m: StoredMessage) => typeof m.content === 'string' && (m.role === 'user' || (m.role === 'assistant' && m.status === 'done'));
    expect(all.flatMap((c) => c.messages).every(wellFormed)).toBe(true);
    await Promise.all([second.close(), third.close()]);
  });
});
