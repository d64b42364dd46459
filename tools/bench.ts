// npm run bench: streaming decode cost against stream position, against sliding-window
// recomputation at the same cache size, and where the time of a token goes; all measured in one
// run in headless Chromium on stories260K. On SwiftShader (no GPU) the times are CPU times: only
// ratios measured in the same run mean anything. Results go to eval/results/bench.{md,json}.
//
//   npm run bench -- [--tokens 1000000] [--sinks 4] [--window 252] [--recompute-samples 20]
//                    [--profile-tokens 200] [--hardware-gpu] [--out eval/results]

import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { openPage, REPO_ROOT } from './browser.ts';
import { STORIES260K_DIR } from './fixtures.ts';
import { describeModel } from './harness.ts';
import type { BenchJob, BenchResult } from './harness/main.ts';
import { storyStream } from './eval/storyStream.ts';

const { values } = parseArgs({
  options: {
    tokens: { type: 'string', default: '1000000' },
    sinks: { type: 'string', default: '4' },
    window: { type: 'string', default: '252' },
    'recompute-samples': { type: 'string', default: '20' },
    'profile-tokens': { type: 'string', default: '200' },
    'hardware-gpu': { type: 'boolean', default: false },
    out: { type: 'string', default: 'eval/results' },
  },
});

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const stats = (xs: number[]) => {
  const s = sorted(xs);
  return { min: s[0], median: s[Math.floor(s.length / 2)], max: s[s.length - 1], n: s.length };
};
const f = (x: number) => x.toFixed(2);

async function main(): Promise<void> {
  const job: BenchJob = {
    model: describeModel(STORIES260K_DIR),
    cache: { sinks: Number(values.sinks), window: Number(values.window) },
    tokens: Number(values.tokens),
    ids: storyStream(20000),
    recomputeSamples: Number(values['recompute-samples']),
    profileTokens: Number(values['profile-tokens']),
  };
  const fill = job.cache.sinks + job.cache.window;
  if (job.tokens < fill + 1000) throw new Error(`--tokens must be at least the cache size plus 1000 (${fill + 1000})`);
  const browser = await openPage('tools/harness/index.html', { hardwareGpu: values['hardware-gpu'], extraArgs: ['--enable-precise-memory-info'] });
  let result: BenchResult;
  let adapter: string;
  try {
    await browser.page.waitForFunction(() => window.harness !== undefined, null, { timeout: 60_000 });
    adapter = await browser.page.evaluate(async () => {
      const a = await navigator.gpu?.requestAdapter();
      return a ? [a.info.vendor, a.info.architecture, a.info.description].filter(Boolean).join(' ') : 'none';
    });
    result = await browser.page.evaluate((j) => window.harness!.benchDecode(j), job);
  } finally {
    await browser.close();
  }

  const afterFill = stats(result.msPerToken.slice(fill, fill + 500));
  const end = stats(result.msPerToken.slice(-500));
  const recompute = stats(result.recomputeMsPerToken);
  const steady = stats(result.msPerToken.slice(fill));
  const [first, last] = [result.resources[0], result.resources[result.resources.length - 1]];
  const afterFillResources = result.resources.find(([t]) => t >= fill) ?? first;
  const p = result.phases;
  const command = `npm run bench -- --tokens ${job.tokens} --sinks ${job.cache.sinks} --window ${job.cache.window}${values['hardware-gpu'] ? ' --hardware-gpu' : ''}`;
  const md = [
    `Streaming decode on stories260K, cache ${job.cache.sinks}+${job.cache.window}, ${job.tokens} tokens fed one at a time. Adapter: ${adapter}. ${new Date().toISOString().slice(0, 10)}.`,
    `Command: \`${command}\`. Times are wall time per token (ms) in one run: min / median / max.`,
    '',
    '| measure | min | median | max | tokens |',
    '|---|---|---|---|---|',
    `| streaming, first 500 tokens after the cache filled | ${f(afterFill.min)} | ${f(afterFill.median)} | ${f(afterFill.max)} | ${afterFill.n} |`,
    `| streaming, last 500 tokens | ${f(end.min)} | ${f(end.median)} | ${f(end.max)} | ${end.n} |`,
    `| streaming, all tokens after the fill | ${f(steady.min)} | ${f(steady.median)} | ${f(steady.max)} | ${steady.n} |`,
    `| sliding window with recomputation, same cache | ${f(recompute.min)} | ${f(recompute.median)} | ${f(recompute.max)} | ${recompute.n} |`,
    '',
    `- End vs after the fill (median): ${f(end.median / afterFill.median)}x (must stay within 1.10x).`,
    `- Speed-up over recomputation (median): ${f(recompute.median / steady.median)}x.`,
    `- Live GPU buffers: ${afterFillResources[1]} after the fill, ${last[1]} at the end; JS heap ${(afterFillResources[2] / 2 ** 20).toFixed(1)} MiB after the fill, ${(last[2] / 2 ** 20).toFixed(1)} MiB at the end.`,
    `- Where a token's time goes (last ${p.tokens} tokens, GPU awaited after every phase): onnxruntime segments ${f(p.segmentsMs / p.tokens)} ms, attention kernel ${f(p.attentionMs / p.tokens)} ms, logits readback ${f(p.readbackMs / p.tokens)} ms.`,
  ].join('\n');
  const out = resolve(REPO_ROOT, values.out);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'bench.md'), md + '\n');
  writeFileSync(join(out, 'bench.json'), JSON.stringify({ command, adapter, job: { ...job, ids: undefined, model: 'stories260K' }, result }) + '\n');
  console.log(md);
}

main().catch((e: unknown) => {
  console.error((e as Error).message);
  process.exit(1);
});
