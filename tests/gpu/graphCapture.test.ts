// onnxruntime's graph capture (src/engine/ort/segmentSessions.ts, with the glue patch in
// lab/onnxruntimeGluePatch.ts): a runner that replays captured graphs for one-token chunks
// gives the same logits as one that runs every segment afresh, through ring wraps, a roll-back, a
// snapshot restore and prefill chunks run uncaptured on the same sessions between decoded tokens.

import { describe, expect, it } from 'vitest';
import { useLabPage } from './labPage.ts';
import { describeModel } from '../../lab/harnessJob.ts';
import type { Harness } from '../../lab/harness/main.ts';
import { ensureStories260kFixture, STORIES260K_DIR } from '../../lab/fixtures.ts';
import { mulberry32 } from '../../lab/random.ts';

const { call } = useLabPage<Harness>('lab/harness/index.html', 'harness');

const randomIds = (n: number, vocab: number, seed: number) => {
  const rng = mulberry32(seed);
  return Array.from({ length: n }, () => 3 + Math.floor(rng() * (vocab - 3)));
};

describe('graph capture', () => {
  it('replays captured decode graphs with logits equal to uncaptured runs over 300 tokens (stories260K)', async () => {
    const result = await call('captureCheck', {
      model: describeModel(STORIES260K_DIR),
      cache: { sinks: 4, window: 28, rollbackSlots: 8 },
      ids: randomIds(330, 512, 11),
      prompt: 20,
      at: { rollBack: 40, restore: 90, chunk: 150 },
    });
    expect(result.captured.captured, 'every segment captures its graph').toBe(result.captured.total);
    expect(result.rows).toBeGreaterThanOrEqual(300);
    expect(result.maxDiff, result.steps.filter((s) => !s.endsWith('max diff 0')).join('\n')).toBeLessThanOrEqual(1e-6);
  });

  // Qwen3's per-head q/k norms end in a Reshape, which onnxruntime runs as a copy that a replay
  // never repeats, unless the splitter drops it (split/outputViews.ts).
  it('captures every segment with Qwen3-style per-head q/k norms and replays it exactly', async () => {
    const result = await call('captureCheck', {
      model: describeModel(await ensureStories260kFixture('qk-norm')),
      cache: { sinks: 2, window: 10, rollbackSlots: 5 },
      ids: randomIds(60, 512, 13),
      prompt: 8,
      at: { rollBack: 16, restore: 30, chunk: 40 },
    });
    expect(result.captured.captured, 'every segment captures its graph').toBe(result.captured.total);
    expect(result.maxDiff, result.steps.join('\n')).toBeLessThanOrEqual(1e-6);
  });

  it('captures every segment of a builder export (Qwen2 q4: packed QKV, MatMulNBits) and replays it exactly', async () => {
    const result = await call('captureCheck', {
      model: describeModel('tests/fixtures/builder-exports/tiny-qwen2', 'onnx/model_q4.onnx'),
      cache: { sinks: 2, window: 4, rollbackSlots: 5 },
      ids: randomIds(20, 1000, 12),
      prompt: 3,
      at: { rollBack: 6, restore: 8, chunk: 11 },
    });
    expect(result.captured.captured, 'every segment captures its graph').toBe(result.captured.total);
    expect(result.maxDiff, result.steps.join('\n')).toBeLessThanOrEqual(1e-6);
  });
});
