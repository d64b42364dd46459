// npm run cache-dtype: per-token NLL with the KV cache kept in f16 against the f32 cache, over a
// stream well past the window, on the builder exports (tests/fixtures/builder-exports) and
// stories260K, in streaming and window attention. Writes eval/results/cache-dtype.md and .json.
//
//   npm run cache-dtype -- [--tokens 2400] [--models label,label] [--out eval/results]
// --models keeps the models whose label contains one of the words given.
// The app keeps its cache in f16 where the largest |ΔNLL| stays within BAR nats.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { openPage, REPO_ROOT, type BrowserPage } from '../lab/browser.ts';
import { STORIES260K_DIR } from '../lab/fixtures.ts';
import { describeModel, type PageJob } from '../lab/harnessJob.ts';
import { mulberry32 } from '../lab/random.ts';
import { storyStream } from '../lab/storyStream.ts';
import type { CacheDtype } from '../src/protocol/messages.ts';

const { values } = parseArgs({
  options: { tokens: { type: 'string', default: '2400' }, models: { type: 'string', default: '' }, out: { type: 'string', default: 'eval/results' } },
});
const TOKENS = Number(values.tokens);
const OUT = resolve(REPO_ROOT, values.out);
const BAR = 0.01;
const EXPORTS = 'tests/fixtures/builder-exports';

interface Model {
  label: string;
  model: PageJob['model'];
  ids: () => number[];
}

/** Ids below 32000: every fixture's tokenizer and embedding has them. Their weights are random, so
 *  random ids read as well as any text. */
const randomIds = () => {
  const rng = mulberry32(7);
  return Array.from({ length: TOKENS }, () => Math.floor(rng() * 32000));
};

const MODELS: Model[] = [
  { label: 'tiny-qwen2 q4', model: describeModel(`${EXPORTS}/tiny-qwen2`, 'onnx/model_q4.onnx'), ids: randomIds },
  { label: 'tiny-qwen2 q4f16 (widened)', model: describeModel(`${EXPORTS}/tiny-qwen2`, 'onnx/model_q4f16.onnx'), ids: randomIds },
  { label: 'tiny-qwen2 fp16 (widened)', model: describeModel(`${EXPORTS}/tiny-qwen2`, 'onnx/model_fp16.onnx'), ids: randomIds },
  { label: 'tiny-llama q4f16 (widened)', model: describeModel(`${EXPORTS}/tiny-llama`, 'onnx/model_q4f16.onnx'), ids: randomIds },
  { label: 'tiny-qwen3 q4f16 (widened)', model: describeModel(`${EXPORTS}/tiny-qwen3`, 'onnx/model_q4f16.onnx'), ids: randomIds },
  { label: 'stories260K (sampled stories)', model: describeModel(STORIES260K_DIR), ids: () => storyStream(TOKENS, 'newline').slice(0, TOKENS) },
];

type Setting = Pick<PageJob, 'mode' | 'chunk'> & { sinks: number; window: number };
const SETTINGS: Setting[] = [
  { mode: 'streaming', sinks: 4, window: 28, chunk: 32 },
  { mode: 'streaming', sinks: 4, window: 252, chunk: 64 },
  { mode: 'window', sinks: 0, window: 32, chunk: 32 },
  { mode: 'window', sinks: 0, window: 256, chunk: 64 },
];

interface Row {
  model: string;
  setting: string;
  pastWindow: number;
  maxAll: number;
  maxPast: number;
  meanPast: number;
  nllF32: number;
  nllF16: number;
}

interface Results {
  tokens: number;
  adapter: string;
  date: string;
  bar: number;
  rows: Row[];
}

/** The Markdown table of the results, and per model whether f16 held the bar in every setting. */
export function report({ tokens, adapter, bar, rows }: Results): string {
  const e = (x: number) => x.toExponential(2);
  const models = [...new Set(rows.map((r) => r.model))];
  const verdicts = models.map((model) => {
    const own = rows.filter((r) => r.model === model);
    const worst = max(own.map((r) => r.maxAll));
    const meanShift = max(own.map((r) => Math.abs(r.nllF16 - r.nllF32)));
    return (
      `- ${model}: largest |ΔNLL| ${e(worst)}, mean |ΔNLL| up to ${e(max(own.map((r) => r.meanPast)))}, mean NLL moved by up to ${e(meanShift)}: ` +
      `${worst <= bar ? 'holds' : '**fails**'} the bar.`
    );
  });
  return [
    `# The KV cache in f16 against f32: per-token NLL`,
    '',
    `Command: \`npm run cache-dtype -- --tokens ${tokens}\` (adapter: ${adapter}). Each model scores the same ${tokens} ids with the cache in f32 and in f16 ` +
      '(packed two per u32, no shader-f16), otherwise identical; |ΔNLL| is per token, in nats. "Past the window" counts the tokens read by a full cache. ' +
      'The builder exports are the tiny random-weight fixtures of tests/fixtures/builder-exports (their f16 files widened to f32 at load, as without shader-f16), ' +
      'scored on random ids; stories260K scores stories it sampled itself.',
    '',
    `The bar for f16 as a default: every token's NLL within ${bar} nats of f32's.`,
    '',
    ...verdicts,
    '',
    'The builder exports are untrained: their mean NLL is about ln(vocabulary), near-uniform predictions that a small change of the logits hardly moves, ' +
      'so they check the f16 path more than they predict a trained model; stories260K is the one trained model here. f16 keeps 11 significant bits of K ' +
      'and V (SwiftShader\'s pack2x16float rounds to nearest) and the kernel computes in f32, so what moves is what 16-bit storage costs.',
    '',
    '| model | setting | tokens past the window | max \\|ΔNLL\\| (all tokens) | max \\|ΔNLL\\| past the window | mean \\|ΔNLL\\| past the window | mean NLL f32 | mean NLL f16 |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.model} | ${r.setting} | ${r.pastWindow} | ${e(r.maxAll)} | ${e(r.maxPast)} | ${e(r.meanPast)} | ${r.nllF32.toFixed(4)} | ${r.nllF16.toFixed(4)} |`),
    '',
  ].join('\n');
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const max = (xs: number[]) => xs.reduce((a, b) => Math.max(a, b), 0);

async function measure(browser: BrowserPage, m: Model, ids: number[], s: Setting): Promise<Row> {
  const score = async (dtype: CacheDtype) => {
    const started = Date.now();
    const cases = [{ mode: s.mode, chunk: s.chunk, cache: { sinks: s.sinks, window: s.window, dtype } }];
    const [nll] = await browser.page.evaluate(([model, i, c]) => window.harness!.scoreCases(model, i, c), [m.model, ids, cases] as const);
    console.log(`  ${m.label}, ${s.mode} ${s.sinks}+${s.window}, ${dtype}: ${((Date.now() - started) / 1000).toFixed(0)} s`);
    return nll;
  };
  const f32 = await score('f32');
  const f16 = await score('f16');
  const diff = f32.map((x, t) => Math.abs(x - f16[t]));
  // nll[t] scores token t + 1, read by query t: its cache is full from t = sinks + window - 1 on.
  const past = diff.slice(s.sinks + s.window - 1);
  return {
    model: m.label,
    setting: `${s.mode} ${s.sinks}+${s.window}, chunks of ${s.chunk}`,
    pastWindow: past.length,
    maxAll: max(diff),
    maxPast: max(past),
    meanPast: mean(past),
    nllF32: mean(f32),
    nllF16: mean(f16),
  };
}

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const browser = await openPage('lab/harness/index.html');
  const rows: Row[] = [];
  try {
    await browser.page.waitForFunction(() => window.harness !== undefined, null, { timeout: 60_000 });
    const adapter = await browser.page.evaluate(async () => {
      const a = await navigator.gpu?.requestAdapter();
      return a ? [a.info.vendor, a.info.architecture, a.info.description].filter(Boolean).join(' ') : 'none';
    });
    const wanted = values.models.split(',').filter(Boolean);
    for (const m of MODELS.filter((x) => wanted.length === 0 || wanted.some((w) => x.label.includes(w)))) {
      const ids = m.ids();
      for (const s of SETTINGS) {
        const started = Date.now();
        const row = await measure(browser, m, ids, s);
        rows.push(row);
        console.log(`${row.model}, ${row.setting}: max |ΔNLL| ${row.maxAll.toExponential(2)} (${row.maxPast.toExponential(2)} past the window), mean ${row.meanPast.toExponential(2)} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
      }
    }
    const results: Results = { tokens: TOKENS, adapter, date: new Date().toISOString(), bar: BAR, rows };
    const md = report(results);
    writeFileSync(join(OUT, 'cache-dtype.md'), md);
    writeFileSync(join(OUT, 'cache-dtype.json'), JSON.stringify(results, null, 1));
    console.log(md);
  } finally {
    await browser.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
