// Hub models in the built app, against the stand-in hub: a repository id typed in is checked
// against the GPU before any download (the weights it can run, the window its memory budget
// allows), downloaded with progress into the browser's storage, loaded and chatted with; a graph
// without recognisable attention is refused with a sentence naming its ops and leaves nothing in
// the model cache; the downloaded models are listed with their sizes and can be deleted. A download
// shows its rate, time left and a bar per file; cancelled, it keeps its partial files (listed as
// unfinished, never loaded as a model) and the next load resumes them with Range requests.
// The repositories hold stories260K exported by the project's exporter, as onnx-community lays out
// its exports (onnx/model.onnx + model.onnx_data chunks, config and tokenizer JSON at the top).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { REPO_ROOT } from '../../lab/browser.ts';
import { ensureStories260kFixture } from '../../lab/fixtures.ts';
import { buildAndServe, onnxExportRepo, type ServedApp } from './appServer.ts';
import { applySettings, modelReady, modelStatus, replies, sendAndWait } from './appPage.ts';

const { onnx } = onnxProto;
const SCREENSHOTS = join(REPO_ROOT, 'test-results', 'screenshots');
const GOOD = 'test-org/stories260K-ONNX';
const NO_ATTENTION = 'test-org/embedding-only-ONNX';
/** A plain transcript template, enough for the story model to answer in turns. */
const CHAT_TEMPLATE =
  "{% for message in messages %}{% if message.role == 'user' %}User: {{ message.content }}\n{% elif message.role == 'assistant' %}Assistant: {{ message.content }}{{ eos_token }}\n{% else %}{{ message.content }}\n{% endif %}{% endfor %}{% if add_generation_prompt %}Assistant:{% endif %}";

let app: ServedApp;
let page: Page;
const pageErrors: string[] = [];
/** The weight files that had finished when the download was cancelled. */
let doneBeforeCancel: string[] = [];

/** A decoder-shaped graph with no attention at all: embedding, then the classifier. */
function embeddingOnlyGraph(): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'embedding-only',
      node: [
        { opType: 'Gather', input: ['embed', 'input_ids'], output: ['hidden'] },
        { opType: 'MatMul', input: ['hidden', 'lm_head'], output: ['logits'] },
      ],
      input: [{ name: 'input_ids', type: { tensorType: { elemType: 7 } } }],
      output: [{ name: 'logits', type: { tensorType: { elemType: 1 } } }],
      initializer: [
        { name: 'embed', dims: [512, 2], dataType: 1, floatData: new Array(1024).fill(0) },
        { name: 'lm_head', dims: [2, 512], dataType: 1, floatData: new Array(1024).fill(0) },
      ],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

const picker = () => page.getByRole('heading', { name: 'Choose a model' });
const cachedRows = () => page.getByTestId('cached-model');
const shot = (name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
/** Names of the model cache's entries in the page's private file system. */
const cacheEntries = () =>
  page.evaluate(async () => {
    const root = await navigator.storage.getDirectory();
    const models = await root.getDirectoryHandle('models', { create: true });
    const names: string[] = [];
    for await (const name of (models as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(decodeURIComponent(name));
    return names;
  });

/** Bytes in "840 KiB" or "1.4 MiB" as windowMath.formatBytes writes them. */
function parseBytes(text: string): number {
  const match = /^([\d.]+) (B|KiB|MiB)$/.exec(text.trim());
  if (!match) throw new Error(`not a byte count: "${text}"`);
  return Number(match[1]) * { B: 1, KiB: 1024, MiB: 1024 * 1024 }[match[2] as 'B' | 'KiB' | 'MiB'];
}

/** The download's file rows as { path, state, done, total }. */
async function fileRows() {
  const rows = await page.getByTestId('download-file').evaluateAll((items) =>
    items.map((li) => ({ path: li.querySelector('.download-file-path')!.textContent!, state: li.getAttribute('data-state')!, text: li.querySelector('.muted')!.textContent! })),
  );
  return rows.map(({ path, state, text }) => {
    const [, done, total] = /^\w+ · (.+) of (.+)$/.exec(text)!;
    return { path, state, done: parseBytes(done), total: parseBytes(total) };
  });
}

/** Sends one message and checks that a reply streams and finishes. */
async function chatOnce(message: string): Promise<void> {
  await sendAndWait(page, message, 120_000);
  const reply = replies(page).last();
  expect(await reply.getAttribute('data-status')).toBe('done');
  expect((await reply.locator('.markdown').innerText()).trim().length).toBeGreaterThan(0);
}

async function checkRepo(repo: string): Promise<string> {
  await page.getByLabel('Another model from the hub').fill(repo);
  await page.getByRole('button', { name: 'Check', exact: true }).click();
  // The engineering line sits behind the Details toggle: read it whether open or not.
  const line = page.getByTestId('capability-typed');
  await line.waitFor({ state: 'attached', timeout: 20_000 });
  return (await line.textContent()) ?? '';
}

beforeAll(async () => {
  await mkdir(SCREENSHOTS, { recursive: true });
  const chunked = await ensureStories260kFixture('chunked');
  const tokenizerConfig = JSON.parse(await readFile(join(chunked, 'tokenizer_config.json'), 'utf8'));
  const withTemplate = JSON.stringify({ ...tokenizerConfig, chat_template: CHAT_TEMPLATE });
  app = await buildAndServe([
    await onnxExportRepo(GOOD, chunked, { 'tokenizer_config.json': withTemplate }),
    await onnxExportRepo(NO_ATTENTION, await ensureStories260kFixture('fused'), { 'onnx/model.onnx': embeddingOnlyGraph(), 'tokenizer_config.json': withTemplate }),
  ]);
  const context = await app.browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(app.url);
  await picker().waitFor();
});

afterAll(async () => {
  await app?.close();
});

describe('hub models in the app', () => {
  it('checks every catalog model against the GPU before any download and shows the window its budget allows', async () => {
    // stories260K (a story model: f32): 5 layers x 4 KV heads x 16 dims (8, padded for GQA) x 2 x 4 bytes = 2560 bytes a token; 4 sinks + 256 + 127 ring slots.
    await expect.poll(() => page.getByTestId('capability-stories260k').textContent()).toBe('fp32 weights, 1.0 MiB to download · window 256 tokens = 968 KiB of KV cache');
    await expect.poll(() => page.getByTestId('capability-qwen3-0.6b').textContent()).toMatch(/^q4(f16)? weights.* · window [\d,]+ tokens = [\d.]+ MiB of KV cache$/);
    expect(app.hub.requests.filter((r) => r.server === 'cdn')).toEqual([]);
  });

  it('downloads a repository typed in, with progress, and chats with it', async () => {
    // Capped by the 512 trained positions: window 508; an ONNX model's cache is f16 by default:
    // (4 + 508 + 127) slots x 1280 bytes = 799 KiB.
    expect(await checkRepo(GOOD)).toBe('fp32 weights, 1.4 MiB to download · window 508 tokens = 799 KiB of KV cache');
    expect(app.hub.requests.filter((r) => r.server === 'cdn')).toEqual([]);
    await shot('hub-1-typed-repo-checked');
    await page.getByRole('button', { name: `Download and load ${GOOD}` }).click();
    await page.getByText('Downloading from the Hugging Face hub (once: it is kept in this browser)').waitFor({ timeout: 20_000 });
    await page.getByTestId('download-overall').filter({ hasText: /^[\d.]+ (B|KiB|MiB) of 1\.4 MiB/ }).waitFor({ timeout: 20_000 });
    await shot('hub-2-download-progress');
    await modelReady(page, GOOD, 90_000);
    expect(app.hub.requests.filter((r) => r.server === 'cdn').length).toBeGreaterThan(0);

    await applySettings(page, { 'Max tokens per reply': '24' });
    await chatOnce('Tell me about a dog.');
    // The engine allocated the cache the line promised.
    expect(await page.locator('.memory-column dt:text-is("GPU memory") + dd').innerText()).toBe('799 KiB · 16-bit');
    expect(await page.locator('.memory-column dt:text-is("Window") + dd').textContent()).toMatch(/^508 tokens/);
    await shot('hub-3-reply');
  });

  it('refuses a graph without recognisable attention with a sentence naming its ops, keeps nothing of it, and the model before it stays', async () => {
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByRole('button', { name: 'Change model…' }).click();
    await picker().waitFor();
    expect(await checkRepo(NO_ATTENTION)).toMatch(/^fp32 weights, .* · window 508 tokens = 799 KiB of KV cache$/);
    await page.getByRole('button', { name: `Download and load ${NO_ATTENTION}` }).click();
    const alert = page.getByTestId('session-problem');
    await alert.waitFor({ timeout: 90_000 });
    const text = (await alert.textContent()) ?? '';
    expect(text).toContain(`${NO_ATTENTION} could not be loaded, so ${GOOD} is loaded again`);
    expect(text).toContain('This model has no attention this app recognises (GroupQueryAttention, MultiHeadAttention with RotaryEmbedding, or a MatMul/Softmax attention over q and k)');
    expect(text).toContain('Its graph uses Gather, MatMul. The download was deleted.');
    await shot('hub-4-refused');
    expect(await modelStatus(page)).toBe(`${GOOD} · ready`);
    // Unloaded from the header's model switcher, the list of models opens again.
    await page.getByTestId('model-status').click();
    await page.getByTestId('loaded-model').getByRole('button', { name: 'Unload' }).click();
    await picker().waitFor();
    expect(await modelStatus(page)).toBe('No model loaded');
    expect(await cacheEntries()).toEqual([`${GOOD}@main:onnx/model.onnx`]);
    await expect.poll(() => cachedRows().allInnerTexts()).toEqual([`${GOOD} · onnx/model.onnx · 1.4 MiB`]);
  });

  it('lists the downloaded model with its size and deletes it', async () => {
    const row = cachedRows().filter({ hasText: GOOD });
    expect(await row.innerText()).toBe(`${GOOD} · onnx/model.onnx · 1.4 MiB`);
    await row.getByRole('button', { name: `Delete ${GOOD} · onnx/model.onnx` }).click();
    await expect.poll(() => cachedRows().count()).toBe(0);
    expect(await cacheEntries()).toEqual([]);
    expect(await page.getByText('None yet').isVisible()).toBe(true);
    expect(pageErrors).toEqual([]);
  });

  it('shows the rate, the time left and a bar per file while downloading; cancelled, it keeps the partial files without offering them as a model', async () => {
    // 50 KB/s: each ~350 KiB weight chunk takes seconds, so the cancel lands in the middle of a file.
    app.hub.bytesPerSecond = 50_000;
    app.hub.requests.length = 0;
    await checkRepo(GOOD);
    await page.getByRole('button', { name: `Download and load ${GOOD}` }).click();
    const overall = page.getByTestId('download-overall');
    await overall.filter({ hasText: /^[\d.]+ (B|KiB|MiB) of 1\.4 MiB · [\d.]+ (B|KiB)\/s · about \d+ (s|min) left$/ }).waitFor({ timeout: 30_000 });
    // The rate shown is the throttled one (50 KB/s = 48.8 KiB/s), give or take the smoothing.
    const rate = parseBytes(/· (.+)\/s ·/.exec(await overall.innerText())![1]);
    expect(rate).toBeGreaterThan(20_000);
    expect(rate).toBeLessThan(120_000);

    const rows = await fileRows();
    expect(rows.map((r) => r.path)).toEqual(expect.arrayContaining(['onnx/model.onnx', 'onnx/model.onnx_data', 'config.json', 'tokenizer.json']));
    expect(rows.reduce((sum, r) => sum + r.total, 0) / 1024 ** 2).toBeCloseTo(1.4, 1);
    expect(rows.filter((r) => r.state === 'downloading')).toHaveLength(1);
    expect(rows.some((r) => r.state === 'queued')).toBe(true);
    const persisted = await page.evaluate(() => navigator.storage.persisted());
    expect(await page.getByTestId('download-not-persisted').isVisible()).toBe(!persisted);
    expect(await page.getByTestId('download-resumed').count()).toBe(0);

    // Cancel well inside a file, so that its stored prefix has to be resumed with a Range request.
    await expect.poll(async () => (await fileRows()).some((r) => r.state === 'downloading' && r.done >= 48 * 1024 && r.total - r.done >= 150 * 1024), { timeout: 30_000 }).toBe(true);
    await shot('hub-5-download-progress-files');
    doneBeforeCancel = (await fileRows()).filter((r) => r.state === 'done' && r.path.startsWith('onnx/')).map((r) => r.path);
    await page.getByRole('button', { name: 'Cancel download' }).click();
    const notice = page.getByTestId('picker-notice');
    await notice.waitFor({ timeout: 10_000 });
    const sentence = /^Download cancelled; (.+) kept, it will resume where it stopped\.$/.exec(await notice.innerText());
    expect(sentence).not.toBeNull();
    const kept = parseBytes(sentence![1]);
    expect(kept).toBeGreaterThan(48 * 1024);
    await shot('hub-6-download-cancelled');

    // Nothing loads as a model: no model, no "load again", the cache lists the download as unfinished.
    expect(await modelStatus(page)).toBe('No model loaded');
    expect(await page.getByRole('button', { name: /again$/ }).count()).toBe(0);
    await expect.poll(() => cachedRows().allInnerTexts()).toEqual([`${GOOD} · onnx/model.onnx · ${sentence![1]}, download not finished`]);
    expect(await cacheEntries()).toEqual([`${GOOD}@main:onnx/model.onnx`]);
    // The download stopped: the notice comes once it has settled, its responses close as the page
    // drops them, and nothing asks for more.
    const requestsAtCancel = app.hub.requests.length;
    await expect.poll(() => app.hub.requests.filter((r) => r.server === 'cdn' && !r.closed).length, { timeout: 30_000 }).toBe(0);
    expect(app.hub.requests.length).toBe(requestsAtCancel);
    expect(pageErrors).toEqual([]);
  });

  it('loading the cancelled model again resumes it with a Range request, says so, and chats', async () => {
    app.hub.bytesPerSecond = 300_000;
    app.hub.requests.length = 0;
    await checkRepo(GOOD);
    await page.getByRole('button', { name: `Download and load ${GOOD}` }).click();
    const resumed = page.getByTestId('download-resumed');
    await resumed.waitFor({ timeout: 20_000 });
    const kept = /^Resumed: (.+) kept from an earlier attempt, so only the rest is downloaded\.$/.exec(await resumed.innerText());
    expect(kept).not.toBeNull();
    expect(parseBytes(kept![1])).toBeGreaterThan(48 * 1024);
    await shot('hub-7-download-resumed');
    await modelReady(page, GOOD, 90_000);
    app.hub.bytesPerSecond = 1_000_000;

    const cdn = app.hub.requests.filter((r) => r.server === 'cdn');
    const ranged = cdn.filter((r) => Number(/^bytes=(\d+)-$/.exec(r.range ?? '')?.[1] ?? 0) > 0);
    expect(ranged).toHaveLength(1);
    expect(ranged[0].status).toBe(206);
    // Weight files verified before the cancel are not fetched again.
    expect(doneBeforeCancel.length).toBeGreaterThan(0);
    const fetched = app.hub.requests.filter((r) => r.method === 'GET').map((r) => r.path);
    for (const path of doneBeforeCancel) expect(fetched.filter((p) => p.endsWith(`/${path}`))).toEqual([]);
    expect(await cacheEntries()).toEqual([`${GOOD}@main:onnx/model.onnx`]);

    await chatOnce('Tell me about a cat.');
    expect(pageErrors).toEqual([]);
  });
});
