// More of what a new user met (issue 20): without WebGPU the conversations stay readable and
// exportable, with the advice in the model picker's place (problem 12); offline, the picker's
// downloads are disabled with a sentence why, a phone shows no keyboard hint, and a conversation
// scrolled up offers the way back to its latest message (problem 13); and what chat users expect:
// a code block names its language, the message box counts tokens as you type against what the model
// remembers, and the kept models' storage is added up beside their Delete. Built app, headless
// Chromium, stories260K from local files.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { readFile } from 'node:fs/promises';
import { buildAndServe, type ServedApp } from './appServer.ts';
import { composer, conversationFile, loadLocalStories, modelStatus, openSettings, sendAndWait, storedConversations } from './appPage.ts';
import { expectScreen } from './screenshots.ts';
import { STORY_MODEL_SETTINGS } from '../../src/features/settings/settings.ts';

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

let app: ServedApp;
let context: BrowserContext;
let page: Page;

/** A conversation with a Python code block at its end, and enough turns before it to scroll. */
const CODE = 'def greet(name):\n    return f"Hello, {name}!"';
function codeConversation(title: string, turns: number) {
  const messages = Array.from({ length: turns }, (_, i) => [
    { id: `u${i}`, role: 'user', content: `Question ${i}: what comes next in the story?`, createdAt: 2 * i + 1 },
    { id: `a${i}`, role: 'assistant', content: `Answer ${i}: the cat went to the park and met a dog. They played all day.`, createdAt: 2 * i + 2, status: 'done' },
  ]).flat();
  messages.push(
    { id: 'uc', role: 'user', content: 'Write a greeting in Python.', createdAt: 1000 },
    { id: 'ac', role: 'assistant', content: `Here it is:\n\n\`\`\`python\n${CODE}\n\`\`\`\n\nCall it with a name.`, createdAt: 1001, status: 'done' },
  );
  return { title, systemPrompt: '', messages, createdAt: 1 };
}

beforeAll(async () => {
  app = await buildAndServe();
  context = await app.browser.newContext({ viewport: DESKTOP, serviceWorkers: 'block' });
  page = await context.newPage();
  await page.goto(app.url);
  await page.getByRole('heading', { name: 'Choose a model' }).waitFor();
});

afterAll(async () => {
  await app?.close();
});

describe('without WebGPU (problem 12)', () => {
  let noGpu: Browser;
  afterAll(async () => {
    await noGpu?.close();
  });

  it('keeps the conversations readable and exportable, with the composer disabled and the advice in the picker’s place', async () => {
    // Chromium without --enable-unsafe-webgpu offers navigator.gpu but no adapter, as on a machine whose GPU it refuses.
    noGpu = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
    const noGpuPage = await (await noGpu.newContext({ viewport: DESKTOP, acceptDownloads: true, serviceWorkers: 'block' })).newPage();
    await noGpuPage.goto(app.url);
    const advice = noGpuPage.getByTestId('no-webgpu');
    await advice.waitFor();
    expect(await advice.getByRole('heading', { level: 2 }).innerText()).toBe('WebGPU found no usable GPU');
    const text = await advice.innerText();
    for (const browser of ['Chrome and Edge 113', 'Chrome 121 or newer on Android', 'Safari 26', 'Firefox 141 or newer on Windows']) expect(text).toContain(browser);
    // Headless Chromium on Linux: the advice for this browser names the flag.
    expect(await advice.getByTestId('your-browser').innerText()).toMatch(/^You are using Chrome \d+ on Linux.*chrome:\/\/flags/);
    expect(await noGpuPage.getByRole('heading', { name: 'Choose a model' }).count()).toBe(0);
    expect(await modelStatus(noGpuPage)).toBe('No model can run here');

    // A saved conversation: imported, then read.
    await noGpuPage.getByLabel('Import a conversation (JSON)').setInputFiles(conversationFile(codeConversation('Greeting in Python', 2)));
    await noGpuPage.getByText('Write a greeting in Python.').waitFor();
    expect(await noGpuPage.locator('.message.assistant pre').last().innerText()).toBe(`${CODE}\n`);
    expect(await composer(noGpuPage).isDisabled()).toBe(true);
    expect(await noGpuPage.getByRole('button', { name: 'Send', exact: true }).isDisabled()).toBe(true);
    expect(await noGpuPage.locator('.composer-hint').innerText()).toMatch(/This browser cannot run a model.*beside the conversation.*read, searched and exported/);
    await expectScreen(noGpuPage, 'no-webgpu-desktop', { hide: ['.conversation-date'] });

    // And exported, whole.
    await noGpuPage.getByRole('button', { name: 'More for "Greeting in Python"' }).first().click();
    const [download] = await Promise.all([noGpuPage.waitForEvent('download'), noGpuPage.getByRole('button', { name: 'Export as JSON' }).first().click()]);
    const file = JSON.parse(await readFile((await download.path())!, 'utf8')) as { conversation: { messages: { content: string }[] } };
    expect(file.conversation.messages.at(-1)!.content).toContain(CODE);
    expect(file.conversation.messages).toHaveLength(6);
  });
});

describe('offline (problem 13)', () => {
  it('disables what needs the hub, with one sentence why, and enables it again online', async () => {
    await page.locator('#hub-repo-id').fill('onnx-community/SmolLM2-135M-Instruct-ONNX-GQA');
    const check = page.getByRole('button', { name: 'Check', exact: true });
    const loads = page.locator('.model-options li').getByRole('button', { name: /^Load / });
    expect(await check.isEnabled()).toBe(true);
    await context.setOffline(true);
    try {
      await page.getByTestId('offline-note').waitFor();
      expect(await page.getByTestId('offline-note').innerText()).toMatch(/^You are offline: models not downloaded yet cannot be loaded/);
      expect(await check.isDisabled()).toBe(true);
      expect(await loads.count()).toBeGreaterThan(3);
      for (const load of await loads.all()) expect(await load.isDisabled()).toBe(true);
      // Looks it too.
      expect(await loads.first().evaluate((el) => getComputedStyle(el).opacity)).toBe('0.5');
    } finally {
      await context.setOffline(false);
    }
    await page.getByTestId('offline-note').waitFor({ state: 'detached' });
    expect(await check.isEnabled()).toBe(true);
    await page.locator('#hub-repo-id').fill('');
  });
});

describe('with a model from this computer', () => {
  it('adds up what the kept models take beside their Delete, and says nothing once none is kept (storage)', async () => {
    await loadLocalStories(page);
    await page.getByTestId('model-status').click();
    const total = page.getByTestId('storage-total');
    await total.waitFor();
    const row = page.getByTestId('cached-model');
    expect(await row.count()).toBe(1);
    const rowSize = (await row.innerText()).match(/· ([\d.]+ [KMG]iB)/)![1];
    expect(await total.innerText()).toMatch(new RegExp(`^This model takes ${rowSize.replace('.', '\\.')} in all\\. This browser lets Endless Chat keep about [\\d.]+ [KMGT]iB; [\\d.]+ [KMG]iB is used now, conversations included\\.$`));
    await row.getByRole('button', { name: /^Delete / }).click();
    await row.waitFor({ state: 'detached' });
    expect(await total.count()).toBe(0);
    await page.getByRole('button', { name: 'Cancel' }).click();
  });

  it('counts the tokens of what is typed against what the model remembers', async () => {
    const count = page.getByTestId('token-count');
    await composer(page).fill('Once upon a time');
    await count.waitFor();
    const line = /^(\d+) tokens? · the model remembers the first (\d+) and the last (\d+)$/;
    const [, short, sinks, window] = (await count.innerText()).match(line)!.map(Number);
    expect(short).toBeGreaterThan(1);
    // What stories260K keeps by default.
    expect([sinks, window]).toEqual([STORY_MODEL_SETTINGS.nSinks, STORY_MODEL_SETTINGS.windowSize]);
    await composer(page).fill('Once upon a time there was a little girl who liked to play in the garden with her red ball.');
    await expect.poll(async () => Number((await count.innerText()).match(line)?.[1])).toBeGreaterThan(short + 10);
    await composer(page).fill('');
    await count.waitFor({ state: 'detached' });
  });

  it('shows the Enter and Esc keys on a desktop, not on a phone', async () => {
    const keys = page.locator('.keys-hint');
    expect(await keys.isVisible()).toBe(true);
    await page.setViewportSize(PHONE);
    try {
      expect(await keys.isVisible()).toBe(false);
    } finally {
      await page.setViewportSize(DESKTOP);
    }
  });
});

describe('a conversation with code', () => {
  it("names a code block's language beside its copy button", async () => {
    await page.getByLabel('Import a conversation (JSON)').setInputFiles(conversationFile(codeConversation('Python greeting', 12)));
    const block = page.locator('.message.assistant .code-block').last();
    await block.waitFor();
    expect(await block.locator('.code-language').innerText()).toBe('python');
    const label = (await block.locator('.code-language').boundingBox())!;
    const copy = (await block.getByRole('button', { name: 'Copy code' }).boundingBox())!;
    expect(Math.abs(label.y + label.height / 2 - (copy.y + copy.height / 2))).toBeLessThan(4);
    expect(label.x + label.width).toBeLessThanOrEqual(copy.x);
    await expectScreen(page, 'code-block-language', { hide: ['.conversation-date', '.cache-picture', '.cache-facts', '.memory-summary', '.latency-chart'] });
  });

  it('offers "Scroll to latest" once scrolled up, and it brings the view to the bottom (problem 13)', async () => {
    const messages = page.locator('.messages');
    const toLatest = page.getByRole('button', { name: 'Scroll to latest' });
    const fromBottom = () => messages.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight);
    expect(await fromBottom()).toBeLessThan(2);
    expect(await toLatest.count()).toBe(0);
    await messages.hover();
    await page.mouse.wheel(0, -3000);
    await toLatest.waitFor();
    expect(await fromBottom()).toBeGreaterThan(500);
    await toLatest.click();
    await expect.poll(fromBottom).toBeLessThan(2);
    await toLatest.waitFor({ state: 'detached' });
  });
});

describe('settings a chat user expects', () => {
  it('offers reply styles that set the sampling numbers, and a system prompt that new conversations start with', async () => {
    let dialog = await openSettings(page);
    await dialog.getByRole('radio', { name: 'Precise' }).check();
    // Precise picks the likeliest words almost always: the numbers behind Details follow the choice.
    expect(await dialog.getByLabel('Temperature', { exact: true }).inputValue()).toBe('0.2');
    expect(await dialog.getByLabel('Top-k', { exact: true }).inputValue()).toBe('20');
    await dialog.locator('#default-system-prompt').fill('Answer in one sentence.');
    await dialog.getByRole('button', { name: 'Apply' }).click();
    await dialog.waitFor({ state: 'hidden' });

    dialog = await openSettings(page);
    expect(await dialog.getByRole('radio', { name: 'Precise' }).isChecked()).toBe(true);
    expect(await dialog.getByLabel('Temperature', { exact: true }).inputValue()).toBe('0.2');
    expect(await dialog.locator('#default-system-prompt').inputValue()).toBe('Answer in one sentence.');
    // A number typed by hand is no longer one of the styles.
    await dialog.getByLabel('Temperature', { exact: true }).fill('0.55');
    expect(await dialog.getByRole('radio', { name: /^(Precise|Balanced|Creative)$/ }).evaluateAll((radios) => radios.filter((r) => (r as HTMLInputElement).checked).length)).toBe(0);
    await dialog.getByRole('button', { name: 'Cancel' }).click();

    // The open conversation has messages, so New conversation starts another rather than reopening an empty one.
    await sendAndWait(page, 'Once upon a time');
    await page.getByRole('button', { name: 'New conversation', exact: true }).first().click();
    await expect.poll(async () => (await storedConversations(page)).filter((c) => c.messages.length === 0).map((c) => c.systemPrompt)).toEqual(['Answer in one sentence.']);
  });
});
