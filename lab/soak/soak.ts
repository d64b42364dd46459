// The engine soak page: streams a looped token stream through the real engine in chunks and, at
// every checkpoint, checks the logits against two fresh engines (see tools/soak.ts for what each
// check means). Live GPU buffers are counted by lab/harness/gpuCounts.ts; the JS heap is
// measured from Node over CDP, so the page needs no flags.

import { ModelRunner } from '../../src/engine/modelRunner.ts';
import type { CacheChoice } from '../../src/protocol/messages.ts';
import { createGpuContext } from '../../src/engine/gpu/device.ts';
import { modelFilesFromLlama2c } from '../../src/engine/model/modelFiles.ts';
import { liveGpuBuffers } from '../harness/gpuCounts.ts';

export interface SoakJob {
  /** URLs of a llama2.c checkpoint and its tokenizer. */
  model: { checkpoint: string; tokenizer: string };
  sinks: number;
  window: number;
  /** Tokens per feed; a power of two (the cache's largest chunk). */
  chunk: number;
  /** The stream, looped: token i of the stream is ids[i % ids.length]. */
  ids: number[];
  /** Stream positions at the end of each checkpoint compared with a fresh engine fed only V(t). */
  approxPositions: number;
  /** Tokens fed one at a time after each checkpoint's checks, timed. */
  decodeSamples: number;
}

export interface SoakCheckpoint {
  /** Stream length after this checkpoint. */
  tokens: number;
  /** Tokens fed since the last checkpoint, and the wall time of feeding them (checks excluded). */
  fed: number;
  feedMs: number;
  /** Logit values that were NaN or infinite since the last checkpoint. */
  nonFinite: number;
  /** Mean next-token NLL of the stream over the interval. */
  meanNll: number;
  /** Streaming engine against an engine restored from its cache snapshot, one chunk later. */
  exact: { maxAbsDiff: number; bitEqual: boolean; snapshotBytes: number };
  /** Streaming engine against a fresh engine prefilled with the tokens of V(t) only. */
  approx: { positions: number; greedyAgree: number; meanKl: number; maxKl: number };
  liveBuffers: number;
  /** Median wall time of the job's decodeSamples tokens fed one at a time at this position. */
  decodeMs: number;
}

interface Run {
  job: SoakJob;
  streaming: ModelRunner;
  restored: ModelRunner;
  fresh: ModelRunner;
  vocab: number;
  /** Logits after the last token fed, to score the next one. */
  lastLogits: Float32Array | null;
}

let run: Run | null = null;

async function bytes(url: string): Promise<Uint8Array<ArrayBuffer>> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`could not fetch ${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

const largestPowerOfTwo = (n: number) => 2 ** Math.floor(Math.log2(n));

function logSoftmax(logits: Float32Array, offset: number, vocab: number): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) max = Math.max(max, logits[offset + i]);
  let sum = 0;
  for (let i = 0; i < vocab; i++) sum += Math.exp(logits[offset + i] - max);
  const lse = Math.log(sum) + max;
  const out = new Float64Array(vocab);
  for (let i = 0; i < vocab; i++) out[i] = logits[offset + i] - lse;
  return out;
}

function argmax(logits: Float32Array, offset: number, vocab: number): number {
  let best = 0;
  for (let i = 1; i < vocab; i++) if (logits[offset + i] > logits[offset + best]) best = i;
  return best;
}

async function start(job: SoakJob): Promise<{ liveBuffers: number; vocab: number }> {
  if (run) throw new Error('a soak is already running on this page; call finish() first');
  const files = modelFilesFromLlama2c(await bytes(job.model.checkpoint), await bytes(job.model.tokenizer));
  const gpu = await createGpuContext();
  const settings: CacheChoice = { mode: 'streaming', nSinks: job.sinks, windowSize: job.window, maxChunk: job.chunk, dtype: 'f32' };
  const capacity = job.sinks + job.window;
  const streaming = await ModelRunner.load(files, settings, gpu);
  const restored = await ModelRunner.load(files, settings, gpu);
  // What rebuild-from-transcript does: a fresh pass over the visible tokens at positions 0..|V|-1.
  const fresh = await ModelRunner.load(files, { mode: 'dense', nSinks: 0, windowSize: capacity, maxChunk: Math.min(64, largestPowerOfTwo(capacity)), dtype: 'f32' }, gpu);
  run = { job, streaming, restored, fresh, vocab: streaming.vocabSize, lastLogits: null };
  return { liveBuffers: liveGpuBuffers(), vocab: run.vocab };
}

/** Feeds `tokens` more tokens (a multiple of the chunk), the last chunk of them under the checks. */
async function advance(tokens: number): Promise<SoakCheckpoint> {
  if (!run) throw new Error('call start() first');
  const { job, streaming, restored, fresh, vocab } = run;
  if (tokens < job.chunk || tokens % job.chunk !== 0) throw new Error(`advance by a positive multiple of the chunk (${job.chunk}), got ${tokens}`);
  const idAt = (t: number) => job.ids[t % job.ids.length];
  let nonFinite = 0;
  let nll = 0;
  let scored = 0;
  let feedMs = 0;

  const account = (logits: Float32Array, t0: number, n: number) => {
    for (let i = 0; i < logits.length; i++) if (!Number.isFinite(logits[i])) nonFinite++;
    // The logits of the previous feed score this chunk's first token.
    if (run!.lastLogits) {
      nll -= logSoftmax(run!.lastLogits, 0, vocab)[idAt(t0)];
      scored++;
    }
    for (let i = 0; i + 1 < n; i++) {
      nll -= logSoftmax(logits, i * vocab, vocab)[idAt(t0 + i + 1)];
      scored++;
    }
    run!.lastLogits = logits.slice((n - 1) * vocab);
  };

  const feedChunk = async () => {
    const t0 = streaming.cache.length;
    const piece = Array.from({ length: job.chunk }, (_, i) => idAt(t0 + i));
    const begin = performance.now();
    const logits = await streaming.feed(piece, { all: true });
    feedMs += performance.now() - begin;
    account(logits, t0, piece.length);
    return { t0, piece, logits };
  };

  for (let fed = 0; fed + job.chunk < tokens; fed += job.chunk) await feedChunk();

  const snapshot = await streaming.cache.snapshot();
  restored.cache.restore(snapshot);
  const { t0, piece, logits } = await feedChunk();
  const again = await restored.feed(piece, { all: true });
  let maxAbsDiff = 0;
  let bitEqual = true;
  for (let i = 0; i < logits.length; i++) {
    const d = Math.abs(logits[i] - again[i]);
    if (!(d <= maxAbsDiff)) maxAbsDiff = Number.isNaN(d) ? Infinity : d;
    if (!Object.is(logits[i], again[i])) bitEqual = false;
  }

  let greedyAgree = 0;
  let klSum = 0;
  let maxKl = 0;
  const positions = Math.min(job.approxPositions, piece.length);
  for (let k = piece.length - positions; k < piece.length; k++) {
    const t = t0 + k;
    const visible: number[] = [];
    for (let j = 0; j < Math.min(job.sinks, t + 1); j++) visible.push(idAt(j));
    for (let j = Math.max(job.sinks, t - job.window + 1); j <= t; j++) visible.push(idAt(j));
    fresh.cache.reset();
    const rebuilt = await fresh.feed(visible);
    if (argmax(logits, k * vocab, vocab) === argmax(rebuilt, 0, vocab)) greedyAgree++;
    const p = logSoftmax(logits, k * vocab, vocab);
    const q = logSoftmax(rebuilt, 0, vocab);
    let kl = 0;
    for (let i = 0; i < vocab; i++) kl += Math.exp(p[i]) * (p[i] - q[i]);
    klSum += kl;
    maxKl = Math.max(maxKl, kl);
  }

  const decodeTimes: number[] = [];
  for (let i = 0; i < job.decodeSamples; i++) {
    const t = streaming.cache.length;
    const begin = performance.now();
    const one = await streaming.feed([idAt(t)], { all: true });
    decodeTimes.push(performance.now() - begin);
    account(one, t, 1);
  }
  decodeTimes.sort((a, b) => a - b);

  return {
    tokens: streaming.cache.length,
    fed: tokens,
    feedMs,
    nonFinite,
    meanNll: nll / scored,
    exact: { maxAbsDiff, bitEqual, snapshotBytes: snapshot.byteLength },
    approx: { positions, greedyAgree, meanKl: klSum / positions, maxKl },
    liveBuffers: liveGpuBuffers(),
    decodeMs: decodeTimes[job.decodeSamples >> 1] ?? 0,
  };
}

/** Unloads the engines; returns the live GPU buffers left. */
async function finish(): Promise<{ liveBuffers: number }> {
  if (run) {
    const { streaming, restored, fresh } = run;
    run = null;
    for (const engine of [streaming, restored, fresh]) await engine.unload();
  }
  return { liveBuffers: liveGpuBuffers() };
}

const soak = { start, advance, finish };
export type SoakPage = typeof soak;
declare global {
  interface Window {
    soak?: SoakPage;
  }
}
window.soak = soak;
