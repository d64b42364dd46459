// npm run soak: streams a long token stream through the real engine (stories260K, streaming cache)
// in headless Chromium, fed in chunks, and checks at every checkpoint that
//   - every logit is finite;
//   - the live GPU buffers equal, and the JS heap (after a forced GC) stays within a tolerance of,
//     what they were at the first checkpoint, after the cache first filled;
//   - exact: an engine restored from the streaming engine's cache snapshot and fed the next chunk
//     gives the same logits as the streaming engine (bit-equal expected; fails above 1e-5);
//   - approximate: a fresh engine prefilled with only the visible tokens V(t) (the sinks and the
//     window, what rebuilding from the transcript does) predicts the same greedy next token at most
//     positions and a small KL(stream || fresh). It cannot be exact: the streaming engine computed
//     each window token's K/V when it arrived, with the context it had then (DESIGN.md section 2).
// Results go to eval/results/soak.{md,json}, rewritten at every checkpoint, so a run cut short
// still leaves its figures. The stream is stories260K's own seeded samples (tools/eval), looped.
//
//   npm run soak -- [--tokens 1000000] [--chunk 64] [--sinks 4] [--window 252] [--every 10240]
//                   [--approx-positions 4] [--max-minutes 0] [--hardware-gpu] [--out eval/results]

import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { openPage, REPO_ROOT } from './browser.ts';
import { STORIES260K_CHECKPOINT, STORIES260K_TOKENIZER } from './fixtures.ts';
import { storyStream } from './eval/storyStream.ts';
import type { SoakCheckpoint, SoakJob } from '../tests/gpu/page/soak.ts';

export const SOAK_PAGE = 'tests/gpu/page/soak.html';

export interface SoakOptions {
  tokens: number;
  chunk: number;
  sinks: number;
  window: number;
  /** Tokens between checkpoints; a multiple of the chunk. */
  every: number;
  approxPositions: number;
  /** Tokens fed one at a time at each checkpoint, timed: decode speed against stream position. */
  decodeSamples: number;
  /** Stop at the first checkpoint past this much wall time (0: no limit). */
  maxMinutes: number;
}

export interface SoakRecord extends SoakCheckpoint {
  /** JS heap in use after a forced garbage collection, bytes. */
  heapBytes: number;
  elapsedS: number;
}

export interface SoakResult {
  options: SoakOptions;
  adapter: string;
  checkpoints: SoakRecord[];
  /** Live GPU buffers once the engines are unloaded. */
  buffersAfterUnload: number;
  /** True when --max-minutes stopped the run before --tokens. */
  stoppedEarly: boolean;
}

export interface SoakTolerances {
  heapGrowthBytes: number;
  exactMaxAbsDiff: number;
  minGreedyAgreement: number;
  maxMeanKl: number;
}

export const DEFAULT_TOLERANCES: SoakTolerances = { heapGrowthBytes: 2 * 2 ** 20, exactMaxAbsDiff: 1e-5, minGreedyAgreement: 0.75, maxMeanKl: 0.1 };

const fsUrl = (path: string) => `/@fs${resolve(path)}`;

/** Runs a soak on an open soak page; `onCheckpoint` sees the result so far after every checkpoint. */
export async function runSoak(page: Page, options: SoakOptions, onCheckpoint: (result: SoakResult) => void = () => {}): Promise<SoakResult> {
  const { tokens, chunk, sinks, every } = options;
  const windowSize = options.window;
  if (every % chunk !== 0) throw new Error(`--every (${every}) must be a multiple of --chunk (${chunk})`);
  if (every < sinks + windowSize + chunk) throw new Error(`--every must be at least the cache size plus one chunk (${sinks + windowSize + chunk}), so the cache fills before the first checkpoint`);
  const cdp = await page.context().newCDPSession(page);
  const heap = async () => {
    await cdp.send('HeapProfiler.collectGarbage');
    return (await cdp.send('Runtime.getHeapUsage')).usedSize;
  };
  const adapter = await page.evaluate(async () => {
    const a = await navigator.gpu?.requestAdapter();
    return a ? [a.info.vendor, a.info.architecture, a.info.description].filter(Boolean).join(' ') : 'none';
  });
  const job: SoakJob = {
    model: { checkpoint: fsUrl(STORIES260K_CHECKPOINT), tokenizer: fsUrl(STORIES260K_TOKENIZER) },
    sinks,
    window: windowSize,
    chunk,
    ids: storyStream(20000),
    approxPositions: options.approxPositions,
    decodeSamples: options.decodeSamples,
  };
  const result: SoakResult = { options, adapter, checkpoints: [], buffersAfterUnload: -1, stoppedEarly: false };
  const began = performance.now();
  await page.evaluate((j) => window.soak!.start(j), job);
  try {
    for (let fed = 0; fed < tokens; ) {
      const step = Math.min(every, Math.ceil((tokens - fed) / chunk) * chunk);
      const checkpoint = await page.evaluate((n) => window.soak!.advance(n), step);
      fed += step;
      result.checkpoints.push({ ...checkpoint, heapBytes: await heap(), elapsedS: (performance.now() - began) / 1000 });
      onCheckpoint(result);
      if (options.maxMinutes > 0 && performance.now() - began > options.maxMinutes * 60_000 && fed < tokens) {
        result.stoppedEarly = true;
        break;
      }
    }
  } finally {
    result.buffersAfterUnload = (await page.evaluate(() => window.soak!.finish())).liveBuffers;
  }
  return result;
}

/** Every way the run broke a check, one line each; empty when it passed. */
export function soakFailures(result: SoakResult, tolerances: SoakTolerances = DEFAULT_TOLERANCES): string[] {
  const failures: string[] = [];
  const [base, ...rest] = result.checkpoints;
  if (!base) return ['no checkpoint was reached'];
  for (const c of result.checkpoints) {
    if (c.nonFinite > 0) failures.push(`${c.nonFinite} non-finite logits before token ${c.tokens}`);
    if (!(c.exact.maxAbsDiff <= tolerances.exactMaxAbsDiff)) failures.push(`at token ${c.tokens} the restored engine differs by ${c.exact.maxAbsDiff}`);
  }
  for (const c of rest) {
    if (c.liveBuffers !== base.liveBuffers) failures.push(`live GPU buffers ${base.liveBuffers} at token ${base.tokens}, ${c.liveBuffers} at token ${c.tokens}`);
    if (c.heapBytes - base.heapBytes > tolerances.heapGrowthBytes) failures.push(`JS heap grew by ${mib(c.heapBytes - base.heapBytes)} MiB between token ${base.tokens} and ${c.tokens}`);
  }
  const a = approxTotals(result);
  if (a.agreement < tolerances.minGreedyAgreement) failures.push(`the fresh engine fed V(t) agrees on the greedy token at only ${pct(a.agreement)} of ${a.positions} positions`);
  if (a.meanKl > tolerances.maxMeanKl) failures.push(`mean KL(stream || fresh engine fed V(t)) is ${a.meanKl.toFixed(4)}`);
  return failures;
}

function approxTotals(result: SoakResult) {
  const positions = result.checkpoints.reduce((s, c) => s + c.approx.positions, 0);
  const agree = result.checkpoints.reduce((s, c) => s + c.approx.greedyAgree, 0);
  const kl = result.checkpoints.reduce((s, c) => s + c.approx.meanKl * c.approx.positions, 0);
  return { positions, agreement: agree / positions, meanKl: kl / positions, maxKl: Math.max(...result.checkpoints.map((c) => c.approx.maxKl)) };
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(2);
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

export function soakReport(result: SoakResult, command: string): string {
  const cs = result.checkpoints;
  const [base, last] = [cs[0], cs[cs.length - 1]];
  const fed = cs.reduce((s, c) => s + c.fed, 0);
  const feedMs = cs.reduce((s, c) => s + c.feedMs, 0);
  const a = approxTotals(result);
  const failures = soakFailures(result);
  const maxExact = Math.max(...cs.map((c) => c.exact.maxAbsDiff));
  const bitEqual = cs.filter((c) => c.exact.bitEqual).length;
  const rows = cs.length <= 24 ? cs : cs.filter((_, i) => i % Math.ceil(cs.length / 24) === 0 || i === cs.length - 1);
  const o = result.options;
  return [
    `Engine soak on stories260K, streaming cache ${o.sinks}+${o.window}, fed in chunks of ${o.chunk}, checkpoint every ${o.every} tokens. Adapter: ${result.adapter}. ${new Date().toISOString().slice(0, 16)}Z.`,
    `Command: \`${command}\`.`,
    '',
    `- Streamed ${last.tokens} tokens in ${(last.elapsedS / 60).toFixed(1)} min (${(fed / (feedMs / 1000)).toFixed(0)} tokens/s while feeding, checks excluded)${result.stoppedEarly ? `; stopped early by --max-minutes, ${o.tokens} were asked` : ''}.`,
    `- Verdict: ${failures.length === 0 ? 'PASS' : `FAIL\n${failures.slice(0, 10).map((f) => `  - ${f}`).join('\n')}`}`,
    `- Non-finite logits: ${cs.reduce((s, c) => s + c.nonFinite, 0)} (every logit of every token checked).`,
    `- Live GPU buffers: ${base.liveBuffers} at the first checkpoint (token ${base.tokens}), ${last.liveBuffers} at the end, ${Math.min(...cs.map((c) => c.liveBuffers))}..${Math.max(...cs.map((c) => c.liveBuffers))} over the run; ${result.buffersAfterUnload} after unloading the engines.`,
    `- JS heap after a forced GC: ${mib(base.heapBytes)} MiB at the first checkpoint, ${mib(last.heapBytes)} MiB at the end, at most ${mib(Math.max(...cs.map((c) => c.heapBytes)))} MiB.`,
    `- Exact check (engine restored from the stream's cache snapshot, next chunk of ${o.chunk} tokens, all logits): bit-equal at ${bitEqual} of ${cs.length} checkpoints, largest difference ${maxExact}.`,
    `- Decode (one token at a time, median of ${o.decodeSamples} at each checkpoint): ${base.decodeMs.toFixed(1)} ms/token at token ${base.tokens}, ${last.decodeMs.toFixed(1)} ms/token at token ${last.tokens} (${(last.decodeMs / base.decodeMs).toFixed(2)}x; min..max over checkpoints ${Math.min(...cs.map((c) => c.decodeMs)).toFixed(1)}..${Math.max(...cs.map((c) => c.decodeMs)).toFixed(1)}).`,
    `- Approximate check (fresh engine prefilled with V(t) only, the last ${o.approxPositions} positions of every checkpoint): same greedy token at ${a.agreement * a.positions} of ${a.positions} (${pct(a.agreement)}), mean KL(stream || fresh) ${a.meanKl.toFixed(4)} nats, largest ${a.maxKl.toFixed(4)}.`,
    '',
    '| stream tokens | tokens/s | decode ms/token | non-finite | mean NLL | exact max diff | greedy agree | mean KL | GPU buffers | JS heap MiB |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (c) =>
        `| ${c.tokens} | ${(c.fed / (c.feedMs / 1000)).toFixed(0)} | ${c.decodeMs.toFixed(1)} | ${c.nonFinite} | ${c.meanNll.toFixed(3)} | ${c.exact.maxAbsDiff} | ${c.approx.greedyAgree}/${c.approx.positions} | ${c.approx.meanKl.toFixed(4)} | ${c.liveBuffers} | ${mib(c.heapBytes)} |`,
    ),
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      tokens: { type: 'string', default: '1000000' },
      chunk: { type: 'string', default: '64' },
      sinks: { type: 'string', default: '4' },
      window: { type: 'string', default: '252' },
      every: { type: 'string', default: '10240' },
      'approx-positions': { type: 'string', default: '4' },
      'max-minutes': { type: 'string', default: '0' },
      'decode-samples': { type: 'string', default: '16' },
      'hardware-gpu': { type: 'boolean', default: false },
      out: { type: 'string', default: 'eval/results' },
    },
  });
  const options: SoakOptions = {
    tokens: Number(values.tokens),
    chunk: Number(values.chunk),
    sinks: Number(values.sinks),
    window: Number(values.window),
    every: Number(values.every),
    approxPositions: Number(values['approx-positions']),
    decodeSamples: Number(values['decode-samples']),
    maxMinutes: Number(values['max-minutes']),
  };
  const command =
    `npm run soak -- --tokens ${options.tokens} --chunk ${options.chunk} --sinks ${options.sinks} --window ${options.window} --every ${options.every}` +
    ` --approx-positions ${options.approxPositions} --decode-samples ${options.decodeSamples}${options.maxMinutes ? ` --max-minutes ${options.maxMinutes}` : ''}${values['hardware-gpu'] ? ' --hardware-gpu' : ''}`;
  const out = resolve(REPO_ROOT, values.out);
  mkdirSync(out, { recursive: true });
  const write = (result: SoakResult) => {
    writeFileSync(join(out, 'soak.md'), soakReport(result, command) + '\n');
    writeFileSync(join(out, 'soak.json'), JSON.stringify({ command, ...result, failures: soakFailures(result) }) + '\n');
  };
  const browser = await openPage(SOAK_PAGE, { hardwareGpu: values['hardware-gpu'] });
  let result: SoakResult;
  try {
    await browser.page.waitForFunction(() => window.soak !== undefined, null, { timeout: 60_000 });
    result = await runSoak(browser.page, options, (r) => {
      const c = r.checkpoints[r.checkpoints.length - 1];
      console.log(
        `${new Date().toISOString().slice(11, 19)} token ${c.tokens}: ${(c.fed / (c.feedMs / 1000)).toFixed(0)} tok/s, non-finite ${c.nonFinite}, ` +
          `NLL ${c.meanNll.toFixed(3)}, exact ${c.exact.maxAbsDiff}, greedy ${c.approx.greedyAgree}/${c.approx.positions}, KL ${c.approx.meanKl.toFixed(4)}, ` +
          `buffers ${c.liveBuffers}, heap ${mib(c.heapBytes)} MiB`,
      );
      write(r);
    });
  } finally {
    await browser.close();
  }
  write(result);
  console.log(soakReport(result, command));
  if (soakFailures(result).length > 0) process.exit(1);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e: unknown) => {
    console.error((e as Error).message);
    process.exit(1);
  });
}
