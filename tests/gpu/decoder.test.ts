// The decoder runtime end to end on the real stories260K model, in headless Chromium: onnxruntime-web
// segments around the project's attention kernel, checked against Karpathy's reference text, against
// onnxruntime running the whole graph, and against the float64 CPU model under docs/architecture.md section 1.
// The cache is f32 throughout: these are exactness tests (cacheDtype.test.ts bounds the f16 cache).

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { useLabPage } from './labPage.ts';
import { ensureStories260kFixture, STORIES260K_CHECKPOINT, STORIES260K_DIR } from '../../lab/fixtures.ts';
import { describeModel } from '../../lab/harnessJob.ts';
import type { GenerateResult, PageJob, ScoreResult } from '../../lab/harnessJob.ts';
import type { Harness } from '../../lab/harness/main.ts';
import { mulberry32 } from '../../lab/random.ts';
import { readCheckpoint, ReferenceLlama, sampleStream, scoreStream, type ReferenceCache } from '../../lab/reference/llama.ts';

const { call } = useLabPage<Harness>('lab/harness/index.html', 'harness');

const GOLDEN_IDS = [403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317];
const GOLDEN_TEXT =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. ' +
  'She wanted to play with it, but it was too high.\nLily\'s mom said, "Lily, let\'s go to';

const weights = readCheckpoint(new Uint8Array(readFileSync(STORIES260K_CHECKPOINT)));
const llama2c = describeModel(STORIES260K_DIR);

function referenceGreedy(n: number): number[] {
  const model = new ReferenceLlama(weights, { mode: 'dense', nSinks: 0, windowSize: 1 });
  const ids = [1];
  for (let i = 0; i < n; i++) {
    const logits = model.step(ids[ids.length - 1]);
    ids.push(logits.indexOf(Math.max(...logits)));
  }
  return ids.slice(1);
}

function maxAbsDiff(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
}

describe('decoder runtime on stories260K', () => {
  it('greedy generation from BOS reproduces the reference text token for token', async () => {
    const job: PageJob = { model: llama2c, mode: 'streaming', cache: { sinks: 4, window: 60, dtype: 'f32' }, generate: { promptIds: [1], maxTokens: 90, temperature: 0, seed: 0 } };
    const result = (await call('run', job)) as GenerateResult;
    expect(result.ids.slice(0, GOLDEN_IDS.length)).toEqual(GOLDEN_IDS);
    expect(result.text.startsWith(GOLDEN_TEXT), `got ${JSON.stringify(result.text)}`).toBe(true);
    // Past 64 tokens the stream leaves the 4 + 60 cache; the CPU model in the same mode agrees.
    const streaming = new ReferenceLlama(weights, { mode: 'streaming', nSinks: 4, windowSize: 60 });
    const expected: number[] = [];
    let last = 1;
    for (let i = 0; i < 90; i++) {
      const logits = streaming.step(last);
      last = logits.indexOf(Math.max(...logits));
      expected.push(last);
    }
    expect(result.ids).toEqual(expected);
    expect(referenceGreedy(GOLDEN_IDS.length)).toEqual(GOLDEN_IDS);
  });

  for (const variant of ['fused', 'separate'] as const) {
    it(`matches onnxruntime running the whole graph (${variant} rotary) within 1e-4 while the stream fits`, async () => {
      const model = describeModel(await ensureStories260kFixture(variant));
      const rng = mulberry32(7);
      const ids = sampleStream(new ReferenceLlama(weights, { mode: 'dense', nSinks: 0, windowSize: 1 }), 180, rng).ids;
      const sizes = [1, 5, 16, 1, 1, 32, 64, 60];
      const chunks: number[][] = [];
      for (let at = 0, i = 0; at < ids.length; i++) {
        chunks.push(ids.slice(at, at + sizes[i]));
        at += sizes[i];
      }
      const job: PageJob = { model, mode: 'streaming', cache: { sinks: 4, window: 200, dtype: 'f32' }, chunk: 64 };
      const [engine, oracle] = [await call('engineLogits', job, chunks), await call('oracleLogits', model, chunks)];
      const diff = maxAbsDiff(engine.flat(), oracle.flat());
      expect(diff, `max abs logit difference ${diff}`).toBeLessThan(1e-4);
    });
  }
});

describe('past the cache: per-token NLL equals the float64 CPU model within 1e-3', () => {
  // 1,200 tokens turn the 64-slot ring eighteen times and reach past the trained context of 512.
  const streamLength = 1200;
  const cases: { name: string; cache: ReferenceCache; job: Pick<PageJob, 'mode' | 'cache'> }[] = [
    { name: 'streaming 4 + 60', cache: { mode: 'streaming', nSinks: 4, windowSize: 60 }, job: { mode: 'streaming', cache: { sinks: 4, window: 60, dtype: 'f32' } } },
    { name: 'window 0 + 64', cache: { mode: 'window', nSinks: 0, windowSize: 64 }, job: { mode: 'window', cache: { sinks: 0, window: 64, dtype: 'f32' } } },
  ];
  const stream = sampleStream(new ReferenceLlama(weights, cases[0].cache), streamLength, mulberry32(2024));

  for (const { name, cache, job } of cases) {
    const expected = cache.mode === 'streaming' ? stream.nll : scoreStream(new ReferenceLlama(weights, cache), stream.ids);
    for (const chunk of [64, 13]) {
      it(`${name}, ${streamLength} tokens in prefill chunks of ${chunk}`, async () => {
        const result = (await call('run', { model: llama2c, ...job, chunk, score: stream.ids })) as ScoreResult;
        expect(result.nll.length).toBe(streamLength - 1);
        const diff = maxAbsDiff(result.nll, expected);
        expect(diff, `max NLL difference ${diff}`).toBeLessThan(1e-3);
        expect(Math.abs(Math.log(result.ppl) - expected.reduce((a, b) => a + b, 0) / expected.length)).toBeLessThan(1e-4);
      });
    }
  }

  it('streaming 4 + 60 fed one token at a time (first 400 tokens)', async () => {
    const ids = stream.ids.slice(0, 400);
    const result = (await call('run', { model: llama2c, mode: 'streaming', cache: { sinks: 4, window: 60, dtype: 'f32' }, chunk: 1, score: ids })) as ScoreResult;
    expect(maxAbsDiff(result.nll, stream.nll.slice(0, 399))).toBeLessThan(1e-3);
  });

  it('recompute mode equals a fresh dense pass over V(t) for every token', async () => {
    const ids = stream.ids.slice(0, 90);
    const [sinks, window] = [4, 20];
    const expected = ids.slice(0, -1).map((_, t) => {
      const model = new ReferenceLlama(weights, { mode: 'dense', nSinks: 0, windowSize: 1 });
      const visible = [...ids.slice(0, Math.min(sinks, t + 1)), ...ids.slice(Math.max(sinks, t - window + 1), t + 1)];
      let logits: Float64Array = new Float64Array();
      for (const id of visible) logits = model.step(id);
      return scoreFromLogits(logits, ids[t + 1]);
    });
    const result = (await call('run', { model: llama2c, mode: 'recompute', cache: { sinks, window, dtype: 'f32' }, chunk: 32, score: ids })) as ScoreResult;
    expect(maxAbsDiff(result.nll, expected)).toBeLessThan(1e-3);
  });

  it('dense attention runs past the trained context of 512, where perplexity rises', async () => {
    const ids = stream.ids.slice(0, 1200);
    const result = (await call('run', { model: llama2c, mode: 'dense', cache: { sinks: 0, window: 1, dtype: 'f32' }, chunk: 64, score: ids })) as ScoreResult;
    expect(result.nll.every(Number.isFinite)).toBe(true);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const inside = mean(result.nll.slice(100, 500));
    const beyond = mean(result.nll.slice(700));
    expect(beyond, `mean NLL ${inside.toFixed(3)} inside the trained context, ${beyond.toFixed(3)} beyond`).toBeGreaterThan(inside * 1.1);
    // Inside the trained context dense attention is exact: it equals the CPU model.
    const reference = scoreStream(new ReferenceLlama(weights, { mode: 'dense', nSinks: 0, windowSize: 1 }), ids.slice(0, 300));
    expect(maxAbsDiff(result.nll.slice(0, 299), reference)).toBeLessThan(1e-3);
  });
});

function scoreFromLogits(logits: Float64Array, target: number): number {
  const max = Math.max(...logits);
  const sum = logits.reduce((a, v) => a + Math.exp(v - max), 0);
  return Math.log(sum) + max - logits[target];
}
