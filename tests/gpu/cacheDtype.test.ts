// The KV cache in f16 (packed two per u32) against the same cache in f32, per token, over a stream
// well past the window, in headless Chromium: on a builder export (the form the hub ships, where the
// app keeps f16 by default) every token's NLL stays within 0.01 nats; on stories260K, a trained model,
// f16 moves some tokens by more than that (eval/results/cache-dtype.md: why the story models keep
// f32), and the bound here is the measured one. Each also checks that the f16 cache really ran.

import { describe, expect, it } from 'vitest';
import { useLabPage } from './labPage.ts';
import { STORIES260K_DIR } from '../../lab/fixtures.ts';
import { describeModel, type PageJob } from '../../lab/harnessJob.ts';
import type { Harness } from '../../lab/harness/main.ts';
import { mulberry32 } from '../../lab/random.ts';
import { storyStream } from '../../lab/storyStream.ts';

const { call } = useLabPage<Harness>('lab/harness/index.html', 'harness');

interface Difference {
  max: number;
  mean: number;
}

/** |NLL(f16) - NLL(f32)| per token, over the tokens read by a full cache. Streams of 32k + 1 ids are
 *  fed in whole chunks of 32: a shorter last piece would compile pipelines for more sizes. */
async function difference(model: PageJob['model'], ids: number[], mode: 'streaming' | 'window', sinks: number, window: number): Promise<Difference> {
  const cases = (['f32', 'f16'] as const).map((dtype) => ({ mode, chunk: 32, cache: { sinks, window, dtype } }));
  const [f32, f16] = await call('scoreCases', model, ids, cases);
  const past = f32.map((x, t) => Math.abs(x - f16[t])).slice(sinks + window - 1);
  expect(past.length).toBeGreaterThanOrEqual(3 * (sinks + window));
  return { max: Math.max(...past), mean: past.reduce((a, b) => a + b, 0) / past.length };
}

describe('the f16 cache against the f32 cache, per token, past the window', () => {
  it('tiny-qwen2 q4 (builder export), streaming 4 + 28 over 129 tokens: within 0.01 nats', { timeout: 300_000 }, async () => {
    const rng = mulberry32(7);
    const ids = Array.from({ length: 129 }, () => Math.floor(rng() * 32000));
    const d = await difference(describeModel('tests/fixtures/builder-exports/tiny-qwen2', 'onnx/model_q4.onnx'), ids, 'streaming', 4, 28);
    console.log(`tiny-qwen2 q4, streaming 4+28: max |ΔNLL| ${d.max.toExponential(2)}, mean ${d.mean.toExponential(2)}`);
    expect(d.max).toBeLessThan(0.01);
    expect(d.max, 'the f16 cache rounds K and V: some NLL must move').toBeGreaterThan(0);
  });

  it('stories260K, window 0 + 32 over 257 tokens of its stories: within 0.03 nats, 0.003 on average', { timeout: 300_000 }, async () => {
    const d = await difference(describeModel(STORIES260K_DIR), storyStream(257, 'newline').slice(0, 257), 'window', 0, 32);
    console.log(`stories260K, window 0+32: max |ΔNLL| ${d.max.toExponential(2)}, mean ${d.mean.toExponential(2)}`);
    expect(d.max).toBeLessThan(0.03);
    expect(d.mean).toBeLessThan(0.003);
    expect(d.max, 'the f16 cache rounds K and V: some NLL must move').toBeGreaterThan(0);
  });
});
