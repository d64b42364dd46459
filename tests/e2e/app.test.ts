// The built app end to end, in headless Chromium with SwiftShader WebGPU, on the real stories260K
// model opened from local files: load, chat, stop, regenerate, edit, conversations, reload and
// resume, export and import, a conversation far past the window, hostile imports, other tabs,
// offline, downloads from a stand-in hub, and the screen for a browser without WebGPU.
// Screenshots go to test-results/screenshots/; those of the main screens must match their references
// in tests/e2e/screenshots/ (UPDATE_SCREENSHOTS=1 rewrites them).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from '../../lab/browser.ts';
import { buildAndServe, type ServedApp } from './appServer.ts';
import { HOSTILE_PAYLOADS, hostileConversationFile } from './hostileConversation.ts';
import { expectScreen, RUN_TO_RUN } from './screenshots.ts';
import { applySettings, HANG, loadLocalStories, modelReady, modelStatus, openSettings, replies, replyFinished, send, sendAndWait, storedConversations, streaming, syncDetail, userMessages } from './appPage.ts';

const SCREENSHOTS = join(REPO_ROOT, 'test-results', 'screenshots');

let app: ServedApp;
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];

async function openApp(target: BrowserContext): Promise<Page> {
  const opened = await target.newPage();
  opened.on('pageerror', (e) => pageErrors.push(e.message));
  await opened.goto(app.url);
  return opened;
}

const shot = (name: string, on: Page = page) => on.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
/** The main screens, compared with their references (tests/e2e/screenshots.ts). */
const screen = (name: string, on: Page = page, hide: string[] = []) => expectScreen(on, name, { hide });
/** Text the streaming reply has written so far (not its header or placeholder). */
const streamedLength = async () => (await streaming(page).locator('.markdown').allInnerTexts()).join('').length;

/** Characters of the streaming reply in IndexedDB: what a reload finds of it. */
const savedStreamingLength = async () => Math.max(0, ...(await storedConversations(page)).flatMap((c) => c.messages.filter((m) => m.status === 'streaming').map((m) => m.content.length)));

const conversation = (text: string) => page.locator('.conversation-list li', { hasText: text }).locator('.conversation-title');
const numberIn = async (testId: string) => Number((await page.getByTestId(testId).innerText()).replace(/,/g, ''));

/** Story text of about `sentences` * 30 tokens, for long user turns that prefill quickly. */
const storyText = (turn: number, sentences: number) =>
  Array.from({ length: sentences }, (_, i) => `On day ${turn * 100 + i}, Tom and Sue went to the park and played with a big red ball.`).join(' ');

beforeAll(async () => {
  await mkdir(SCREENSHOTS, { recursive: true });
  app = await buildAndServe();
  context = await app.browser.newContext({ viewport: { width: 1280, height: 800 } });
  // Messages longer than the window are read whole here, chosen once as a user would.
  await context.addInitScript(() => localStorage.setItem('endless-chat:long-messages', 'all'));
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: app.url });
  await context.addInitScript(() => {
    (window as unknown as { __pwned(name: string): void }).__pwned = (name: string) => {
      const w = window as unknown as { __pwnedCalls?: string[] };
      (w.__pwnedCalls ??= []).push(name);
    };
  });
  page = await openApp(context);
});

afterAll(async () => {
  await app?.close();
});

describe('the chat app, built and served, on stories260K from local files', () => {
  const FIRST = 'Once upon a time, there was a little dog';
  const LONG = 'Tom and Sue had a big red ball.';

  it('opens on the model picker, with an empty conversation ready', async () => {
    await page.getByRole('heading', { name: 'Choose a model' }).waitFor();
    await expect.poll(() => modelStatus(page)).toBe('No model loaded');
    await expect.poll(() => page.getByRole('button', { name: 'Load stories260K' }).isVisible()).toBe(true);
    await screen('1-empty-state-model-picker', page, ['.conversation-date']);
  });

  it('loads the model from local files and refuses invalid settings with a sentence beside each field', async () => {
    await loadLocalStories(page);
    await openSettings(page);
    await page.getByLabel('Attention sinks').fill('200');
    await page.getByLabel('Window (tokens)').fill('128');
    await page.getByLabel('Temperature').fill('-1');
    await page.getByLabel('Top-p').fill('0');
    await page.getByRole('button', { name: 'Apply' }).click();
    const dialog = page.getByRole('dialog', { name: 'Settings' });
    await expect.poll(() => dialog.getByText('Sinks must be fewer than the window (128 tokens).').isVisible()).toBe(true);
    expect(await dialog.getByText('Temperature must be 0 or more').isVisible()).toBe(true);
    expect(await dialog.getByText('Top-p must be above 0 and at most 1').isVisible()).toBe(true);
    expect(await dialog.isVisible()).toBe(true);
    await screen('2-settings-refusing-invalid-values', page, ['.conversation-date']);

    // Sinks 4 + window 128 reloads the engine; short replies keep the first tests quick. Fixed in the
    // dialog still open from the refusal, which applySettings would open anew.
    await page.getByLabel('Attention sinks').fill('4');
    await page.getByLabel('Temperature').fill('0.8');
    await page.getByLabel('Top-p').fill('0.95');
    await page.getByLabel('Max tokens per reply').fill('40');
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => dialog.isVisible()).toBe(false);
    await modelReady(page);
  });

  it('streams a reply to a message sent with Enter, with its speed underneath', async () => {
    await send(page, 'Once upon a time, there was a little dog named Max.');
    await expect.poll(streamedLength, { timeout: HANG }).toBeGreaterThan(20);
    expect(await page.getByRole('button', { name: 'Stop (Esc)' }).isVisible()).toBe(true);
    await replyFinished(page);
    const reply = replies(page).last();
    expect(await reply.getAttribute('data-status')).toBe('done');
    expect((await reply.locator('.markdown').innerText()).length).toBeGreaterThan(20);
    expect(await reply.locator('.stats-line').innerText()).toMatch(/^\d+ tokens · [\d.]+ per second · started after [\d.]+ s$/);
    expect(await reply.locator('.stats-line').getAttribute('title')).toMatch(/^prefill [\d.]+ tok\/s · decode [\d.]+ tok\/s · first token \d+ ms · \d+ tokens$/);
    expect(await conversation(FIRST).isVisible()).toBe(true);
  });

  it('stops a reply mid-way with Esc and keeps what was written', async () => {
    await send(page, ' Max liked to run.');
    await expect.poll(streamedLength, { timeout: HANG }).toBeGreaterThan(10);
    await page.keyboard.press('Escape');
    await replyFinished(page);
    const reply = replies(page).last();
    expect(await reply.getAttribute('data-status')).toBe('stopped');
    expect(await reply.getByText('Stopped.').isVisible()).toBe(true);
    const decoded = Number((await reply.locator('.stats-line').innerText()).match(/^(\d+) tokens/)![1]);
    expect(decoded).toBeLessThan(40);
  });

  it('regenerates the last reply by rolling the cache back, keeping the earlier messages', async () => {
    // Greedy: two regenerations from the same rolled-back cache must write the same reply, which
    // they would not if the cache kept any of the reply it replaced.
    await applySettings(page, { Temperature: '0' });
    const idsBefore = await userMessages(page).evaluateAll((els) => els.map((e) => e.getAttribute('data-message-id')));
    const regenerate = async () => {
      const replyBefore = await replies(page).last().getAttribute('data-message-id');
      await replies(page).last().getByRole('button', { name: 'Regenerate' }).click();
      await replyFinished(page);
      expect(await userMessages(page).evaluateAll((els) => els.map((e) => e.getAttribute('data-message-id')))).toEqual(idsBefore);
      expect(await replies(page).count()).toBe(2);
      const reply = replies(page).last();
      expect(await reply.getAttribute('data-message-id')).not.toBe(replyBefore);
      expect(await reply.getAttribute('data-status')).toBe('done');
      const notice = (await syncDetail(reply)) ?? '';
      expect(notice).toMatch(/^Cache rolled back Rolled the cache back to token \d+/);
      return { text: await reply.locator('.markdown').innerText(), notice };
    };
    const first = await regenerate();
    const second = await regenerate();
    expect(first.text.length).toBeGreaterThan(0);
    expect(second).toEqual(first);
  });

  it('edits a sent message and resends it: same message, new text, new reply', async () => {
    const last = userMessages(page).last();
    const id = await last.getAttribute('data-message-id');
    await last.getByRole('button', { name: 'Edit and resend' }).click();
    await page.getByLabel('Edit message').fill(' Max liked to swim in the lake.');
    await page.getByLabel('Edit message').press('Enter');
    await streaming(page).waitFor({ state: 'attached' });
    await replyFinished(page);
    expect(await userMessages(page).last().getAttribute('data-message-id')).toBe(id);
    expect(await userMessages(page).last().innerText()).toContain('Max liked to swim in the lake.');
    expect((await userMessages(page).allInnerTexts()).join('\n')).not.toContain('Max liked to run.');
    expect(await replies(page).count()).toBe(2);
    expect(await replies(page).last().getAttribute('data-status')).toBe('done');
    expect((await replies(page).last().locator('.markdown').innerText()).length).toBeGreaterThan(0);
    expect(await syncDetail(replies(page).last())).toMatch(/^Cache rolled back /);
    await applySettings(page, { Temperature: '0.8' });
  });

  it('keeps several conversations in the sidebar and switches between them', async () => {
    await page.getByRole('button', { name: 'New conversation' }).click();
    await expect.poll(() => page.locator('.message').count()).toBe(0);
    await sendAndWait(page, 'Lily had a red kite.');
    expect(await page.locator('.message').count()).toBe(2);

    await conversation(FIRST).click();
    await expect.poll(() => page.locator('.message').count()).toBe(4);
    expect(await userMessages(page).first().innerText()).toContain('a little dog named Max');
    await conversation('Lily had a red kite.').click();
    expect(await userMessages(page).first().innerText()).toContain('Lily had a red kite.');
  });

  it('runs a conversation of over a thousand tokens: the ring turns, tokens are evicted, old messages leave the window', async () => {
    // Replies of up to 140 tokens: the last one can outgrow the 128-token window.
    await applySettings(page, { 'Max tokens per reply': '140' });
    await page.getByRole('button', { name: 'New conversation' }).click();
    // A short first message: the stream then holds every token, so its snapshots can be saved.
    await sendAndWait(page, LONG);
    const evictedAfterTurn: number[] = [];
    for (let turn = 0; turn < 3; turn++) {
      await sendAndWait(page, storyText(turn, 10));
      expect(await replies(page).last().getAttribute('data-status')).toBe('done');
      expect((await replies(page).last().locator('.markdown').innerText()).length).toBeGreaterThan(0);
      evictedAfterTurn.push(await numberIn('cache-evicted'));
    }
    const tokens = await numberIn('cache-tokens');
    expect(tokens).toBeGreaterThan(1000);
    // 4 sinks + 128 window: everything else has left, and it keeps leaving as replies come.
    expect(evictedAfterTurn.at(-1)).toBe(tokens - 4 - 128 + 1);
    for (let i = 1; i < evictedAfterTurn.length; i++) expect(evictedAfterTurn[i]).toBeGreaterThan(evictedAfterTurn[i - 1]);
    expect(await page.locator('.message[data-window="out"]').count()).toBeGreaterThanOrEqual(4);
    expect(await page.locator('.message[data-window="sinks-only"]').count()).toBe(1);
    expect(await page.getByText('Out of the window: the model no longer sees this message.').first().isVisible()).toBe(true);
    // The last reply is longer than the window: the model sees only its end.
    expect(await page.locator('.message').last().getAttribute('data-window')).toMatch(/^(in|partly-out)$/);
    expect(await page.getByTestId('memory-summary').innerText()).toMatch(/the last 128 tokens/);
    expect(await page.locator('.latency-chart polyline').count()).toBe(1);
    await screen('3-long-chat-with-cache-picture', page, RUN_TO_RUN);
  });

  it('keeps a reply cut off by a reload, marked, and finds every conversation again', async () => {
    await send(page, storyText(9, 2));
    await expect.poll(streamedLength, { timeout: HANG }).toBeGreaterThan(40);
    // Reload once the stored copy holds part of the reply (saves come every 500 ms while streaming).
    await expect.poll(savedStreamingLength, { timeout: HANG }).toBeGreaterThan(20);
    await page.reload();
    // The model picked from local files was kept in the browser: it loads again by itself.
    await modelReady(page);
    const cut = replies(page).last();
    expect(await cut.getAttribute('data-status')).toBe('interrupted');
    expect(await cut.getByText(/^Interrupted:/).isVisible()).toBe(true);
    expect((await cut.locator('.markdown').innerText()).length).toBeGreaterThan(20);
    expect(await page.locator('.conversation-list li').count()).toBe(3);
    // The cache picture of the last reply survives the reload too.
    expect(await page.locator('.message[data-window="out"]').count()).toBeGreaterThanOrEqual(4);

    // The picker belongs to the page, not to the conversation on screen: opening another
    // conversation keeps what was typed (or picked) in it.
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByRole('button', { name: 'Change model…' }).click();
    const open = page.locator('.conversation-list .conversation-title[aria-current="true"]');
    const openTitle = await open.innerText();
    const repo = page.getByLabel('Another model from the hub');
    await repo.fill('onnx-community/Qwen3-0.6B-ONNX');
    await page.locator('.conversation-list .conversation-title:not([aria-current])').first().click();
    await expect.poll(() => open.innerText()).not.toBe(openTitle);
    expect(await repo.inputValue()).toBe('onnx-community/Qwen3-0.6B-ONNX');
    await repo.fill('');
    // The button holds the title and, on its own line, the date.
    const [titleLine, dateLine] = openTitle.split('\n');
    await page.locator('.conversation-list .conversation-title', { hasText: titleLine }).filter({ hasText: dateLine }).click();
    await expect.poll(() => open.innerText()).toBe(openTitle);
    await page.getByRole('button', { name: 'Cancel' }).click();
  });

  it('continues conversations after the reload from their saved cache snapshots, and says so', async () => {
    await modelReady(page);
    await applySettings(page, { 'Max tokens per reply': '40' });
    await sendAndWait(page, ' Then it rained.');
    expect(await syncDetail(replies(page).last())).toMatch(/^Cache restored Restored the saved cache of this conversation\./);

    // Its snapshot was saved after its last reply (the edit), with the same cache settings.
    await conversation(FIRST).click();
    await sendAndWait(page, ' The sun came out again.');
    expect(await syncDetail(replies(page).last())).toMatch(/^Cache restored Restored the saved cache of this conversation\./);
    expect(await page.locator('.message').count()).toBe(6);
  });

  it('exports a conversation as JSON and imports it back as a new one', async () => {
    const row = page.locator('.conversation-list li', { hasText: FIRST });
    await row.getByRole('button', { name: /^More for/ }).click();
    const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('button', { name: 'Export as JSON' }).click()]);
    const exported = JSON.parse(await readFile((await download.path())!, 'utf8'));
    expect(exported.format).toBe('endless-chat/conversation');
    expect(exported.conversation.messages.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant', 'user', 'assistant']);
    expect(exported.conversation.messages[5].stats.msPerToken.length).toBeGreaterThan(0);

    await page.getByLabel('Import a conversation (JSON)').setInputFiles({ name: 'story.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(exported)) });
    await expect.poll(() => page.locator('.conversation-list li').count()).toBe(4);
    expect(await page.locator('.conversation-list li.active').innerText()).toContain(FIRST);
    expect(await page.locator('.message.user .markdown').allInnerTexts()).toEqual(exported.conversation.messages.filter((m: { role: string }) => m.role === 'user').map((m: { content: string }) => m.content.trim()));

    await page.getByLabel('Import a conversation (JSON)').setInputFiles({ name: 'bad.json', mimeType: 'application/json', buffer: Buffer.from('{"hello": 1}') });
    await page.getByRole('alert').filter({ hasText: 'This file is not a conversation exported from Endless Chat: it has no "format"' }).waitFor();
  });

  it('copies a code block to the clipboard', async () => {
    await page.getByLabel('Import a conversation (JSON)').setInputFiles({ name: 'hostile.json', mimeType: 'application/json', buffer: Buffer.from(hostileConversationFile()) });
    await page.locator('.code-block').getByRole('button', { name: 'Copy code' }).click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe("<script>window.__pwned('code-block')</script>\n");
  });

  it('shows hostile HTML and Markdown from an imported conversation as text, and none of it runs', async () => {
    const messages = page.locator('.messages');
    // Hover, click and toggle what an attacker would want hovered, clicked and toggled.
    await page.getByText('bold?').hover();
    await page.locator('.dead-link', { hasText: 'markdown link' }).click();
    await page.getByText('raw link').first().click();
    await page.locator('.system-prompt summary').click();
    // Handlers run during these events or in tasks they queue (a toggle event): a frame and a task later, all have run.
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve))));

    expect(await page.evaluate(() => (window as unknown as { __pwnedCalls?: string[] }).__pwnedCalls ?? [])).toEqual([]);
    expect(await page.locator('#root script, #root style, #root iframe, #root svg[onload], #root img').count()).toBe(0);
    const handlers = await page.locator('#root *').evaluateAll((els) => els.flatMap((e) => e.getAttributeNames().filter((n) => n.startsWith('on'))));
    expect(handlers).toEqual([]);
    // The app's own fragment links (the skip link, the header's Experiment link) are not content.
    const hrefs = await page.locator('#root a[href]:not(.skip-link):not(.header-link)').evaluateAll((els) => els.map((e) => e.getAttribute('href') ?? ''));
    expect(hrefs.filter((h) => !/^(https?:|blob:)/.test(h))).toEqual([]);
    expect(await page.locator('.dead-link', { hasText: 'markdown link' }).evaluate((e) => e.closest('a'))).toBeNull();
    // The payloads are shown, as the text they are.
    expect(await messages.innerText()).toContain(HOSTILE_PAYLOADS[0]);
    expect(await messages.innerText()).toContain('<img src=x onerror=');
    expect(await page.locator('.conversation-list li.active').innerText()).toContain('<img src=x onerror=');
    expect(await page.locator('body').isVisible()).toBe(true);
    expect(pageErrors).toEqual([]);
  });

  it('fits a phone-width screen, with the panels behind buttons, and has a dark theme', async () => {
    await conversation(LONG).click();
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.locator('.sidebar').isVisible()).toBe(false);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await screen('4-phone-width', page, RUN_TO_RUN);
    await page.getByRole('button', { name: 'Memory' }).click();
    expect(await page.locator('.memory-column').isVisible()).toBe(true);
    await screen('5-phone-width-memory-panel', page, RUN_TO_RUN);
    await page.getByRole('button', { name: 'Memory' }).click();
    await page.getByRole('button', { name: 'Conversations' }).click();
    expect(await page.locator('.sidebar').isVisible()).toBe(true);
    await page.getByRole('button', { name: 'Conversations' }).click();

    await page.setViewportSize({ width: 1280, height: 800 });
    await page.getByRole('button', { name: /^Theme: system/ }).click();
    await page.getByRole('button', { name: /^Theme: light/ }).click();
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    expect(await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor)).toBe('rgb(15, 17, 21)');
    await screen('6-dark-theme', page, RUN_TO_RUN);
    await page.getByRole('button', { name: 'Settings' }).click();
    await screen('7-settings-dark', page, RUN_TO_RUN);
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: /^Theme: dark/ }).click();
  });

  it('when the engine dies mid-reply, says so, reloads the model on request, and the next reply restores the saved cache', async () => {
    await send(page, ' Tom found a shoe.');
    await expect.poll(streamedLength, { timeout: HANG }).toBeGreaterThan(5);
    // A bug that kills the worker under a pending request: said as one (INTERNAL), not as a lost GPU.
    const worker = page.workers().find((w) => w.url().includes('engine.worker'))!;
    await worker.evaluate(() => setTimeout(() => {
      throw new Error('simulated crash');
    }));
    await page.getByRole('heading', { name: 'The engine stopped' }).waitFor();
    expect(await replies(page).last().getAttribute('data-status')).toBe('failed');
    expect(await replies(page).last().getByRole('alert').innerText()).toMatch(/^Something went wrong in the engine, which stopped unexpectedly \(.*simulated crash\)\. This is a bug in the app/);
    await screen('8-engine-stopped', page, RUN_TO_RUN);
    await page.getByRole('button', { name: 'Reload the model' }).click();
    await modelReady(page);
    await sendAndWait(page, ' Tom put on the shoe.');
    // The snapshot saved after ' Then it rained.' still fits: only what came after it is read
    // (a rebuild would read the sinks and the whole window, 132 tokens).
    const reply = replies(page).last();
    const notice = (await syncDetail(reply)) ?? '';
    expect(notice).toMatch(/^Cache restored Restored the saved cache of this conversation\. \(\d+ tokens read\)$/);
    expect(Number(/\((\d+) tokens read\)/.exec(notice)![1])).toBeLessThan(128);
    expect(await reply.getAttribute('data-status')).toBe('done');
    expect((await reply.locator('.markdown').innerText()).length).toBeGreaterThan(0);
  });

  it('lets a second tab take the engine over; the first tab stops and says so', async () => {
    const second = await openApp(context);
    await second.getByRole('heading', { name: 'The model is running in another tab' }).waitFor();
    await screen('9-second-tab', second, RUN_TO_RUN);
    await second.getByRole('button', { name: 'Use it here' }).click();
    await page.getByRole('heading', { name: 'Another tab took over the model' }).waitFor();
    // The taking tab loads the model used last by itself.
    await modelReady(second);
    await second.close();
    // With the other tab gone the lock is free again: taking it back loads here.
    await page.getByRole('button', { name: 'Take it back' }).click();
    await modelReady(page);
  });

  it('opens offline from the service worker cache, and loads a local model there', async () => {
    await page.evaluate(() => navigator.serviceWorker.ready);
    const cached = await page.evaluate(async () => {
      const urls: string[] = [];
      for (const name of await caches.keys()) for (const request of await (await caches.open(name)).keys()) urls.push(new URL(request.url).pathname);
      return urls;
    });
    expect(cached.some((u) => /ort-wasm-simd-threaded\.asyncify-.*\.wasm$/.test(u))).toBe(true);
    expect(cached.some((u) => /engine\.worker-.*\.js$/.test(u))).toBe(true);
    await context.setOffline(true);
    try {
      await page.reload();
      // The model kept from local files loads by itself, offline too.
      await modelReady(page);
    } finally {
      await context.setOffline(false);
    }
  });

});

describe('a catalog model from the hub (a stand-in for it on localhost)', () => {
  it('downloads with progress, is kept in the browser, and loads offline from the model cache', async () => {
    const fresh = await app.browser.newContext({ viewport: { width: 1280, height: 800 } });
    const hubPage = await openApp(fresh);
    try {
      await hubPage.getByRole('button', { name: 'Load stories260K' }).click();
      await hubPage.getByTestId('download-overall').filter({ hasText: /^[\d.]+ (B|KiB|MiB) of 1\.0 MiB/ }).waitFor({ timeout: HANG });
      await shot('11-download-progress', hubPage);
      await modelReady(hubPage);
      const downloads = app.hub.requests.filter((r) => r.server === 'cdn').length;
      expect(downloads).toBeGreaterThan(0);
      // Offline needs the service worker to have cached the app shell and the wasm first.
      await hubPage.evaluate(() => navigator.serviceWorker.ready);
      await expect.poll(() => hubPage.evaluate(async () => (await Promise.all((await caches.keys()).map(async (k) => (await (await caches.open(k)).keys()).length))).reduce((a, b) => a + b, 0)), { timeout: HANG }).toBeGreaterThan(10);

      await fresh.setOffline(true);
      await hubPage.reload();
      // The downloaded model was used last: it loads again by itself, from the model cache.
      await modelReady(hubPage);
      expect(app.hub.requests.filter((r) => r.server === 'cdn').length).toBe(downloads);
    } finally {
      await fresh.close();
    }
  });
});

describe('a browser without WebGPU', () => {
  it('shows what to do beside the conversations instead of a blank page', async () => {
    const bare = await app.browser.newContext();
    await bare.addInitScript(() => {
      delete (Navigator.prototype as { gpu?: unknown }).gpu;
    });
    const noGpu = await bare.newPage();
    await noGpu.goto(app.url);
    await noGpu.getByRole('heading', { name: 'This browser does not offer WebGPU' }).waitFor();
    expect(await noGpu.getByText('Chrome and Edge 113 or newer on Windows, macOS and ChromeOS', { exact: false }).isVisible()).toBe(true);
    expect(await noGpu.getByRole('navigation', { name: 'Conversations' }).isVisible()).toBe(true);
    expect(await noGpu.getByRole('button', { name: 'Check again' }).isVisible()).toBe(true);
    await screen('10-no-webgpu', noGpu, ['.conversation-date']);
    await bare.close();
  });
});
