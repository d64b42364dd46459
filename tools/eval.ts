// npm run eval: the paper's claims reproduced on the real stories260K model with this project's
// engine in headless Chromium. Writes tables, SVG charts and raw JSON to eval/results/.
//
//   npm run eval -- [--tokens 20000] [--budget 128] [--recompute-tokens 600] [--dense-tokens 4000]
//                   [--ablation-tokens 10000] [--out eval/results]
// Dense attention costs O(n^2) and recomputation O(n * budget), so on SwiftShader those two arms
// run on the first part of the stream only; the others run on all of it.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { openPage, REPO_ROOT, type BrowserPage } from '../lab/browser.ts';
import { STORIES260K_DIR } from '../lab/fixtures.ts';
import { describeModel, type HarnessMode, type PageJob, type ScoreResult } from '../lab/harnessJob.ts';
import { storyStream } from '../lab/storyStream.ts';
import { CHART_COLORS as COLORS, lineChart, type Series } from '../src/ui/lineChart.ts';

const { values } = parseArgs({
  options: {
    tokens: { type: 'string', default: '20000' },
    budget: { type: 'string', default: '128' },
    'recompute-tokens': { type: 'string', default: '600' },
    'dense-tokens': { type: 'string', default: '4000' },
    'ablation-tokens': { type: 'string', default: '10000' },
    out: { type: 'string', default: 'eval/results' },
  },
});
const TOKENS = Number(values.tokens);
const BUDGET = Number(values.budget);
const RECOMPUTE_TOKENS = Number(values['recompute-tokens']);
const DENSE_TOKENS = Number(values['dense-tokens']);
const ABLATION_TOKENS = Number(values['ablation-tokens']);
const OUT = resolve(REPO_ROOT, values.out);
const SEGMENT = 500;

const model = describeModel(STORIES260K_DIR);
let browser: BrowserPage;

async function score(mode: HarnessMode, sinks: number, windowSize: number, ids: number[], chunk = 64): Promise<ScoreResult> {
  const job: PageJob = { model, mode, cache: { sinks, window: windowSize }, chunk, score: ids };
  const started = Date.now();
  const result = (await browser.page.evaluate((j) => window.harness!.run(j), job)) as ScoreResult;
  console.log(`  ${mode} ${sinks}+${windowSize} over ${ids.length} tokens: ppl ${result.ppl.toFixed(3)} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  return result;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const ppl = (nll: number[]) => Math.exp(mean(nll));
function segments(nll: number[]): number[] {
  const out: number[] = [];
  for (let at = 0; at < nll.length; at += SEGMENT) out.push(ppl(nll.slice(at, at + SEGMENT)));
  return out;
}
const fmt = (x: number) => (x >= 1000 ? x.toExponential(2) : x.toFixed(2));

function table(header: string[], rows: (string | number)[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const command = `npm run eval -- --tokens ${TOKENS} --budget ${BUDGET} --recompute-tokens ${RECOMPUTE_TOKENS} --dense-tokens ${DENSE_TOKENS} --ablation-tokens ${ABLATION_TOKENS}`;
  console.log(`building the story stream (${TOKENS} tokens)`);
  const stream = storyStream(TOKENS, 'newline');
  const bosStream = storyStream(TOKENS, 'bos');
  browser = await openPage('lab/harness/index.html');
  await browser.page.waitForFunction(() => window.harness !== undefined, null, { timeout: 60_000 });
  const adapter = await browser.page.evaluate(async () => {
    const a = await navigator.gpu?.requestAdapter();
    return a ? [a.info.vendor, a.info.architecture, a.info.description].filter(Boolean).join(' ') : 'none';
  });
  const results: Record<string, unknown> = { command, adapter, date: new Date().toISOString(), tokens: TOKENS, budget: BUDGET };

  // 1. Four arms at equal cache budget.
  console.log(`arms at cache budget ${BUDGET}`);
  const arms: { label: string; nll: number[] }[] = [
    { label: `dense (no eviction), first ${DENSE_TOKENS}`, nll: (await score('dense', 0, 1, stream.slice(0, DENSE_TOKENS + 1))).nll },
    { label: `window (0+${BUDGET})`, nll: (await score('window', 0, BUDGET, stream)).nll },
    { label: `StreamingLLM (4+${BUDGET - 4})`, nll: (await score('streaming', 4, BUDGET - 4, stream)).nll },
    { label: `sliding window + recompute (${BUDGET}), first ${RECOMPUTE_TOKENS}`, nll: (await score('recompute', 0, BUDGET, stream.slice(0, RECOMPUTE_TOKENS + 1), 64)).nll },
  ];
  const segs = arms.map((a) => segments(a.nll));
  const nSegs = Math.max(...segs.map((s) => s.length));
  writeFileSync(join(OUT, 'arms.md'), [
    `Perplexity per ${SEGMENT}-token segment of a ${TOKENS}-token stream of stories sampled from stories260K (trained context 512),`,
    `joined by newlines after one BOS at the start (so only the first token can be a sink), cache budget ${BUDGET}.`,
    `Command: \`${command}\`. Adapter: ${adapter}.`,
    '',
    table(['tokens', ...arms.map((a) => a.label)], Array.from({ length: nSegs }, (_, i) => [`${i * SEGMENT}-${(i + 1) * SEGMENT}`, ...segs.map((s) => (s[i] === undefined ? '' : fmt(s[i])))])),
    '',
    table(['arm', 'overall ppl'], arms.map((a) => [a.label, fmt(ppl(a.nll))])),
  ].join('\n') + '\n');
  writeFileSync(join(OUT, 'arms.svg'), lineChart(
    arms.map((a, i) => ({ label: a.label, color: COLORS[i], points: segments(a.nll).map((y, k) => [(k + 0.5) * SEGMENT, y] as [number, number]) })),
    { title: `stories260K: perplexity per ${SEGMENT} tokens, cache ${BUDGET}`, xLabel: 'stream position (tokens)', yLabel: 'perplexity (log scale)', logY: true },
  ));
  results.arms = arms.map((a) => ({ label: a.label, ppl: ppl(a.nll), segments: segments(a.nll) }));

  // 1b. The same stream with a BOS before every story, as llama2.c trains: every story start can
  // then serve as a sink, so a plain window should not collapse.
  console.log('arms on the BOS-separated stream');
  const bosArms = [
    { label: `window (0+${BUDGET})`, ppl: (await score('window', 0, BUDGET, bosStream)).ppl },
    { label: `StreamingLLM (4+${BUDGET - 4})`, ppl: (await score('streaming', 4, BUDGET - 4, bosStream)).ppl },
  ];
  writeFileSync(join(OUT, 'arms-bos-separated.md'), [
    `The same ${TOKENS}-token stream with a BOS token before every story (llama2.c's training format), cache budget ${BUDGET}. Command: \`${command}\`.`,
    '',
    table(['arm', 'overall ppl'], bosArms.map((a) => [a.label, fmt(a.ppl)])),
  ].join('\n') + '\n');
  results.bosSeparated = bosArms;

  // 2. Ablations: sink count at a fixed budget, and cache size.
  const abl = stream.slice(0, ABLATION_TOKENS);
  console.log('ablation: sinks');
  const sinkRows: { sinks: number; ppl: number; tail: number }[] = [];
  for (const sinks of [0, 1, 2, 4, 8]) {
    const r = await score(sinks === 0 ? 'window' : 'streaming', sinks, BUDGET - sinks, abl);
    sinkRows.push({ sinks, ppl: r.ppl, tail: ppl(r.nll.slice(-2000)) });
  }
  console.log('ablation: cache size');
  const sizeRows: { size: number; ppl: number; tail: number }[] = [];
  for (const size of [64, 128, 256, 512]) {
    const r = await score('streaming', 4, size - 4, abl);
    sizeRows.push({ size, ppl: r.ppl, tail: ppl(r.nll.slice(-2000)) });
  }
  writeFileSync(join(OUT, 'ablations.md'), [
    `Ablations over the first ${ABLATION_TOKENS} tokens of the same stream. Command: \`${command}\`.`,
    '',
    `Sinks at a fixed budget of ${BUDGET} (S + ${BUDGET} - S):`,
    '',
    table(['sinks', 'ppl', 'ppl, last 2000 tokens'], sinkRows.map((r) => [r.sinks, fmt(r.ppl), fmt(r.tail)])),
    '',
    'Cache size with 4 sinks (4 + size - 4):',
    '',
    table(['cache', 'ppl', 'ppl, last 2000 tokens'], sizeRows.map((r) => [r.size, fmt(r.ppl), fmt(r.tail)])),
  ].join('\n') + '\n');
  results.ablations = { sinks: sinkRows, cacheSize: sizeRows };

  // 3. Recall against distance (StreamEval in spirit).
  console.log('recall');
  const recall = await recallTest(stream);
  writeFileSync(join(OUT, 'recall.md'), [
    'Recall of a planted line at a known distance, in the spirit of StreamEval. stories260K cannot follow question/answer',
    'prompts, so the "line" is a random 6-token sequence and the "question" repeats its first 3 tokens: the model recalls',
    'it when it gives each of the 3 remaining tokens a probability above 1/2 (copying from context, an induction head).',
    `20 trials per distance; the distance counts the tokens between the end of the line and its cue. Cache 4+60 (window 60). Command: \`${command}\`.`,
    '',
    table(['distance', 'streaming 4+60 accuracy', 'dense accuracy'], recall.map((r) => [r.distance, r.streaming.toFixed(2), r.dense.toFixed(2)])),
  ].join('\n') + '\n');
  writeFileSync(join(OUT, 'recall.svg'), lineChart([
    { label: 'StreamingLLM 4+60', color: COLORS[0], points: recall.map((r) => [r.distance, r.streaming]) },
    { label: 'dense', color: COLORS[1], points: recall.map((r) => [r.distance, r.dense]) },
  ] satisfies Series[], { title: 'stories260K: recall of a planted sequence against distance', xLabel: 'distance (tokens)', yLabel: 'token accuracy' }));
  results.recall = recall;

  writeFileSync(join(OUT, 'results.json'), JSON.stringify(results, null, 1) + '\n');
  console.log(`results in ${OUT}`);
}

/** Token accuracy of recalling a planted random sequence at each distance, streaming vs dense. */
async function recallTest(stream: number[]): Promise<{ distance: number; streaming: number; dense: number }[]> {
  let seed = 99;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const rows: { distance: number; streaming: number; dense: number }[] = [];
  for (const distance of [4, 16, 32, 48, 56, 64, 80, 128, 256]) {
    const ids = [1, ...stream.slice(1, 40)];
    const scored: number[] = [];
    let filler = 1000;
    for (let trial = 0; trial < 20; trial++) {
      const line = Array.from({ length: 6 }, () => 259 + Math.floor(rand() * 253));
      ids.push(...line, ...stream.slice(filler, filler + distance), ...line.slice(0, 3));
      filler += distance + 7;
      for (let k = 0; k < 3; k++) {
        scored.push(ids.length - 1); // nll index of the next id
        ids.push(line[3 + k]);
      }
      ids.push(...stream.slice(filler, filler + 8));
      filler += 8;
    }
    const accuracy = (nll: number[]) => scored.filter((i) => nll[i] < Math.LN2).length / scored.length;
    const s = await score('streaming', 4, 60, ids);
    const d = await score('dense', 0, 1, ids);
    rows.push({ distance, streaming: accuracy(s.nll), dense: accuracy(d.nll) });
  }
  return rows;
}

main()
  .then(() => browser.close())
  .catch(async (e: unknown) => {
    console.error(e);
    await browser?.close();
    process.exit(1);
  });
