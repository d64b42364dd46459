// The Experiment view in the built app (headless Chromium, SwiftShader): with the built-in
// stories260K it runs StreamingLLM 4+60, a window of 64 and dense over 1,200 tokens of the shipped
// book, draws the chart and the table (a compared screenshot), and exports a JSON whose per-token
// NLL a harness job on the same ids reproduces; a stop keeps the finished arms and marks the one it
// cut; the chat goes on afterwards with the same conversation and cache; the runs are kept in
// IndexedDB. With a builder export (random weights) the sink ablation draws five lines.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openPage, REPO_ROOT, type BrowserPage } from '../../lab/browser.ts';
import { STORIES260K_DIR } from '../../lab/fixtures.ts';
import { describeModel, type PageJob, type ScoreResult } from '../../lab/harnessJob.ts';
import { buildAndServe, type ServedApp } from './appServer.ts';
import { expectScreen } from './screenshots.ts';
import { applySettings, composer, modelReady, replies, sendAndWait, storedConversations } from './appPage.ts';

/** Longer than appPage's HANG: a run here scores 1,200 tokens in each of three arms. */
const HANG = 600_000;
/** How long the built-in model may take to load. */
const LOAD = 120_000;
const TOKENS = 1200;
/** The stopped run: long enough to stop in its second arm, no longer. */
const STOP_TOKENS = 600;

let app: ServedApp;
let page: Page;
const pageErrors: string[] = [];

const cacheTokens = async () => Number((await page.getByTestId('cache-tokens').innerText()).replace(/,/g, ''));
const armStatuses = () => page.locator('[data-testid="experiment-table"] tbody tr').evaluateAll((rows) => rows.map((r) => [r.querySelector('th')!.textContent, r.getAttribute('data-status')]));
/** The chart as its SVG, read back from the image the view shows. */
const chartSvg = async () => decodeURIComponent((await page.getByTestId('perplexity-chart').getAttribute('src'))!.replace(/^data:image\/svg\+xml;charset=utf-8,/, ''));

/** How the engine's cache followed the transcript for the newest reply, as IndexedDB keeps it. */
const lastSync = async () =>
  (await storedConversations(page))
    .flatMap((c) => c.messages)
    .filter((m) => m.role === 'assistant')
    .sort((a, b) => a.createdAt - b.createdAt)
    .at(-1)?.sync?.how;

async function openExperiment(): Promise<void> {
  await page.getByRole('link', { name: 'Experiment' }).click();
  await page.getByRole('heading', { name: /^The StreamingLLM experiment on / }).waitFor();
}

/** Sets the form: tokens, sinks and window, and which arms run. */
async function plan(fields: Record<string, string>, arms: Record<string, boolean>): Promise<void> {
  for (const [label, value] of Object.entries(fields)) await page.getByLabel(label, { exact: true }).fill(value);
  for (const [name, on] of Object.entries(arms)) await page.locator(`.arms-form input[type="checkbox"][name="${name}"]`).setChecked(on);
}

const finished = () => page.getByTestId('experiment-summary').waitFor({ timeout: HANG });

beforeAll(async () => {
  app = await buildAndServe();
  const context = await app.browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(app.url);
  await page.getByRole('button', { name: 'Try it now' }).click();
  await modelReady(page, 'stories260K', LOAD);
});

afterAll(async () => {
  await app?.close();
});

describe('the Experiment view', () => {
  let chatTokens = 0;
  let messages = 0;

  it('a conversation first: the experiment must leave it as it is', { timeout: HANG }, async () => {
    // Short replies: what is tested is the cache they leave, not their length.
    await applySettings(page, { 'Max tokens per reply': '16' });
    await sendAndWait(page, 'Once upon a time, there was a little dog named Max.', HANG);
    chatTokens = await cacheTokens();
    messages = await page.locator('.message').count();
    expect(chatTokens).toBeGreaterThan(10);
  });

  it("runs StreamingLLM 4+60, window 0+64 and dense over 1,200 tokens of the book; the JSON's per-token NLL is the harness's", { timeout: 2 * HANG }, async () => {
    await openExperiment();
    expect(page.url()).toMatch(/#experiment$/);
    await expect.poll(() => page.getByTestId('text-tokens').innerText(), { timeout: 120_000 }).toMatch(/^[\d,]+ tokens for stories260K\.$/);
    await plan({ 'Tokens to score': String(TOKENS), 'Sinks (S)': '4', 'Window (W)': '60' }, { streaming: true, plainWindow: true, dense: true, recompute: false, ablation: false, recall: true });
    await page.getByRole('button', { name: 'Run the experiment' }).click();
    // The chart is drawn while the run goes, before it ends.
    await page.getByTestId('experiment-progress').waitFor({ timeout: 60_000 });
    await expect.poll(async () => (await chartSvg()).match(/<polyline fill="none" stroke="[^"]+" stroke-width="2" points="[^"]+"/g)?.length ?? 0, { timeout: HANG }).toBeGreaterThan(0);
    await finished();
    expect(await armStatuses()).toEqual([
      ['StreamingLLM 4+60', 'done'],
      ['window 0+64', 'done'],
      ['dense', 'done'],
    ]);
    const svg = await chartSvg();
    expect(svg.match(/<polyline /g)).toHaveLength(3);
    expect(svg).toContain('>trained length 512<');
    expect(svg).toContain('>cache 64<');
    const summary = await page.getByTestId('experiment-summary').innerText();
    expect(summary).toContain('What StreamingLLM does not do: remember what left the window.');
    expect(summary).toMatch(/Recall check: planted 15 tokens before its question \((inside|beyond) the window\)/);

    // Everything but the timings and the date is the same from run to run.
    await page.setViewportSize({ width: 1280, height: 1900 });
    await expectScreen(page, 'experiment-results', { hide: ['.timing', '.run-date'] });
    await page.setViewportSize({ width: 1280, height: 900 });

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download JSON' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^experiment-stories260K-.*\.json$/);
    const json = JSON.parse(await readFile((await download.path())!, 'utf8')) as {
      chunk: number;
      cacheDtype: 'f32' | 'f16';
      trainedContext: number;
      arms: { label: string; mode: PageJob['mode']; sinks: number; window: number; status: string; ids: number[]; nll: number[] }[];
    };
    expect(json.trainedContext).toBe(512);
    expect(json.arms.map((a) => [a.mode, a.sinks, a.window, a.status, a.ids.length, a.nll.length])).toEqual([
      ['streaming', 4, 60, 'done', TOKENS, TOKENS - 1],
      ['window', 0, 64, 'done', TOKENS, TOKENS - 1],
      ['dense', 0, TOKENS, 'done', TOKENS, TOKENS - 1],
    ]);
    expect(json.arms[0].ids[0]).toBe(1);

    // A harness job on the same ids, in its own page: the same scorer gives the same numbers.
    let harness: BrowserPage | undefined;
    try {
      harness = await openPage('lab/harness/index.html');
      await harness.page.waitForFunction(() => window.harness !== undefined, null, { timeout: 60_000 });
      const model = describeModel(STORIES260K_DIR);
      for (const arm of json.arms) {
        const job: PageJob = { model, mode: arm.mode, cache: { sinks: arm.sinks, window: arm.mode === 'dense' ? 1 : arm.window, dtype: json.cacheDtype }, chunk: json.chunk, score: arm.ids };
        const result = (await harness.page.evaluate((j) => window.harness!.run(j), job)) as ScoreResult;
        const diff = result.nll.reduce((m, x, i) => Math.max(m, Math.abs(x - arm.nll[i])), 0);
        console.log(`${arm.label}: max |app - harness| per-token NLL ${diff.toExponential(2)} over ${arm.nll.length} tokens`);
        expect(result.nll).toHaveLength(arm.nll.length);
        expect(diff).toBeLessThan(1e-4);
      }
    } finally {
      await harness?.close();
    }
    expect(pageErrors).toEqual([]);
  });

  it('Stop keeps the finished arm and marks the one it cut; the chat goes on with the same conversation and cache', { timeout: HANG }, async () => {
    await plan({ 'Tokens to score': String(STOP_TOKENS) }, { recall: false });
    await page.getByRole('button', { name: 'Run the experiment' }).click();
    await expect.poll(() => page.getByTestId('experiment-progress').innerText(), { timeout: HANG, interval: 100 }).toMatch(/^Arm 2 of 3, window 0\+64: [1-9][\d,]* of/);
    await page.getByRole('button', { name: 'Stop' }).click();
    await finished();
    expect(await armStatuses()).toEqual([
      ['StreamingLLM 4+60', 'done'],
      ['window 0+64', 'stopped'],
      ['dense', 'not-run'],
    ]);
    const cut = page.locator('[data-testid="experiment-table"] tbody tr[data-status="stopped"]');
    expect(await cut.innerText()).toContain('stopped: not finished');
    expect(await chartSvg()).toContain('>window 0+64 (stopped)<');

    await page.getByRole('link', { name: 'Back to the chat' }).click();
    await composer(page).waitFor();
    expect(await page.locator('.message').count()).toBe(messages);
    expect(await cacheTokens()).toBe(chatTokens);
    await sendAndWait(page, 'Max ran to the park.', HANG);
    // The cache still held the conversation: the new message was read on top of it (a roll-back,
    // a restore or a rebuild would show a note on the reply).
    const reply = replies(page).last();
    expect(await reply.getAttribute('data-status')).toBe('done');
    expect(await reply.locator('.sync-notice').count()).toBe(0);
    expect(await lastSync()).toBe('continued');
    expect(await cacheTokens()).toBeGreaterThan(chatTokens);
    // The two turns fit the window: an arm that fed the chat's cache would have made it evict.
    expect(await page.getByTestId('cache-evicted').innerText()).toBe('0');
  });

  it('keeps every run in IndexedDB, listed after a reload at #experiment', { timeout: HANG }, async () => {
    await page.evaluate(() => (location.hash = 'experiment'));
    await page.reload();
    await page.getByRole('heading', { name: 'Saved runs' }).waitFor({ timeout: 120_000 });
    const rows = page.locator('.saved-runs tbody tr');
    expect(await rows.count()).toBe(2);
    expect(await rows.nth(0).innerText()).toMatch(/stories260K[\s\S]*Moby Dick, chapters 1 to 30, 600 tokens[\s\S]*window 0\+64: [\d.]+ \(stopped: not finished\)/);
    await rows.nth(1).getByRole('button', { name: 'Show' }).click();
    expect(await armStatuses()).toEqual([
      ['StreamingLLM 4+60', 'done'],
      ['window 0+64', 'done'],
      ['dense', 'done'],
    ]);
  });

  it('with a builder export (random weights), the sink ablation draws five lines', { timeout: HANG }, async () => {
    await modelReady(page, 'stories260K', LOAD);
    await page.getByRole('link', { name: 'Back to the chat' }).click();
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByRole('button', { name: 'Change model…' }).click();
    await page.getByLabel('Model folder').setInputFiles(join(REPO_ROOT, 'tests/fixtures/builder-exports/tiny-llama'));
    await modelReady(page, 'tiny-llama', HANG);
    await openExperiment();
    await page.getByRole('radio', { name: 'Your own text' }).check();
    await page.getByLabel('Paste a text, or open a file').fill(
      'Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse, and nothing particular to interest me on shore, I thought I would sail about a little and see the watery part of the world.',
    );
    await expect.poll(() => page.getByTestId('text-tokens').innerText(), { timeout: 120_000 }).toMatch(/^\d+ tokens for tiny-llama\.$/);
    await plan({ 'Tokens to score': '40', 'Sinks (S)': '4', 'Window (W)': '12' }, { streaming: false, plainWindow: false, dense: false, recompute: false, ablation: true, recall: false });
    await page.getByRole('button', { name: 'Run the experiment' }).click();
    await finished();
    expect((await armStatuses()).map(([label]) => label)).toEqual(['0 sinks + 16', '1 sink + 15', '2 sinks + 14', '4 sinks + 12', '8 sinks + 8']);
    expect((await chartSvg()).match(/<polyline /g)).toHaveLength(5);
    expect(pageErrors).toEqual([]);
  });
});
