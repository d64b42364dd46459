// The files the hub really ships, in the built app: a builder export opened as a folder from this
// computer, and another typed in as a hub repository and downloaded from the stand-in hub, each
// loaded with the variant this GPU runs (SwiftShader has no shader-f16: the fp32-I/O q4 file where
// there is one, else q4f16 widened to f32) and chatted with through its own chat template.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from '../../lab/browser.ts';
import type { HubFixtureRepo } from '../../lab/hubServer.ts';
import { buildAndServe, type ServedApp } from './appServer.ts';
import { applySettings, HANG, modelReady, modelStatus, replies, replyFinished, send } from './appPage.ts';

const FIXTURES = join(REPO_ROOT, 'tests/fixtures/builder-exports');
const HUB_REPO = 'test-org/tiny-qwen2-ONNX';

let app: ServedApp;
let page: Page;
const pageErrors: string[] = [];

/** A fixture folder as a hub repository, file for file (weights and tokenizer through LFS). */
async function folderRepo(id: string, folder: string): Promise<HubFixtureRepo> {
  const files: HubFixtureRepo['files'] = [];
  for (const entry of await readdir(folder, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name).slice(folder.length + 1);
    files.push({ path, bytes: new Uint8Array(await readFile(join(folder, path))), lfs: path.startsWith('onnx/') || path === 'tokenizer.json' });
  }
  return { id, files };
}

const setMaxTokens = (n: number) => applySettings(page, { 'Max tokens per reply': String(n) });

/** The max-tokens field as the settings dialog shows it once opened, read before any later task
 *  runs: what a fill arriving then would find. */
const maxTokensShownOnOpen = () =>
  page.evaluate(async () => {
    document.querySelector<HTMLButtonElement>('button[aria-label="Settings"]')!.click();
    for (let i = 0; i < 10; i++) await Promise.resolve();
    return { open: document.querySelector('dialog.settings-dialog')!.hasAttribute('open'), value: document.querySelector<HTMLInputElement>('.settings-dialog input[name="maxTokens"]')!.value };
  });

/** Sends a message; the reply must stream and finish. */
async function chatOnce(message: string): Promise<void> {
  await send(page, message, HANG);
  await replyFinished(page).catch(async (e: Error) => {
    // What the page showed when the reply never finished: the reply so far, the model status, page errors.
    const reply = await replies(page).last().innerText().catch(() => '');
    throw new Error(`${e.message}\nthe reply so far: ${JSON.stringify(reply)}\nmodel status: ${await modelStatus(page)}; page errors: ${JSON.stringify(pageErrors)}`);
  });
  expect(await replies(page).last().getAttribute('data-status')).not.toBe('streaming');
  expect(pageErrors).toEqual([]);
}

beforeAll(async () => {
  app = await buildAndServe([await folderRepo(HUB_REPO, join(FIXTURES, 'tiny-qwen2'))]);
  const context = await app.browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(app.url);
  await page.getByRole('heading', { name: 'Choose a model' }).waitFor({ timeout: HANG });
});

afterAll(async () => {
  await app?.close();
});

describe('builder exports in the app', () => {
  it('opens a builder export from a folder on this computer (Llama q4f16, widened without shader-f16) and chats with its Llama-2 template', async () => {
    await page.getByLabel('Model folder').setInputFiles(join(FIXTURES, 'tiny-llama'));
    await modelReady(page, 'tiny-llama');
    await setMaxTokens(6);
    await chatOnce('What is the capital of France?');
    // The real template framed the message: the stream holds more tokens than the text alone.
    const tokens = Number((await page.locator('.memory-column dt:text-is("Tokens in the conversation") + dd').innerText()).replace(/[^\d]/g, ''));
    expect(tokens).toBeGreaterThan(15);
  });

  it('downloads a builder export typed in as a hub repository (Qwen2: only its q4 graph) and chats with its ChatML template', async () => {
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByRole('button', { name: 'Change model…' }).click();
    await page.getByLabel('Another model from the hub').fill(HUB_REPO);
    await page.getByRole('button', { name: 'Check', exact: true }).click();
    const line = page.getByTestId('capability-typed');
    await line.waitFor({ state: 'attached', timeout: HANG });
    expect(await line.textContent()).toMatch(/^q4 weights \(no shader-f16 on this GPU\), [\d.]+ MiB to download · window [\d,]+ tokens = [\d.]+ (KiB|MiB) of KV cache$/);
    app.hub.requests.length = 0;
    await page.getByRole('button', { name: `Download and load ${HUB_REPO}` }).click();
    await modelReady(page, HUB_REPO);
    // The hub's own names: the q4 graph and its external data, never the other variants.
    const resolved = app.hub.requests.filter((r) => r.server === 'hub' && r.path.includes('/resolve/')).map((r) => r.path.replace(/^.*\/resolve\/[^/]+\//, ''));
    expect(resolved).toEqual(expect.arrayContaining(['onnx/model_q4.onnx', 'onnx/model_q4.onnx_data', 'config.json', 'tokenizer.json']));
    expect(resolved.filter((p) => /model_(q4f16|fp16)\.onnx/.test(p))).toEqual([]);
    // The dialog opens on this model's settings (a chat model's default of 512), never for a moment
    // on what was last typed for the other model (6): a fill landing then would be lost.
    expect(await maxTokensShownOnOpen()).toEqual({ open: true, value: '512' });
    await page.getByRole('button', { name: 'Cancel' }).click();
    await setMaxTokens(6);
    await chatOnce('Hello there');
    // ChatML without enable_thinking: nothing to switch.
    expect(await page.getByLabel('Think before answering').count()).toBe(0);
  });

  it('offers "Think before answering" for Qwen3 (its template takes enable_thinking), keeps the choice, and chats with it off', async () => {
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByRole('button', { name: 'Change model…' }).click();
    await page.getByLabel('Model folder').setInputFiles(join(FIXTURES, 'tiny-qwen3'));
    await modelReady(page, 'tiny-qwen3');
    const thinking = page.getByLabel('Think before answering');
    expect(await thinking.isChecked()).toBe(true);
    await thinking.uncheck();
    expect(await page.evaluate(() => localStorage.getItem('endless-chat:thinking'))).toBe('off');
    await setMaxTokens(6);
    await chatOnce('What is 2 + 2?');
    // The choice is kept in this browser: after a reload the box is still off.
    await page.reload();
    await modelReady(page, 'tiny-qwen3');
    expect(await page.getByLabel('Think before answering').isChecked()).toBe(false);
  });
});
