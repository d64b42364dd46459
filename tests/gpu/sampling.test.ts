// Sampling on the GPU (shaders/top_logits.wgsl through TopLogitsKernel) in headless Chromium: the k
// best logits it reads back, with the recent ids under a repetition penalty left out and their raw
// values gathered, are exactly the CPU's; the sampler draws from them exactly what it draws from
// the whole row; and a generation on stories260K is the same id for id either way, the app's
// default settings included.

import { describe, expect, it } from 'vitest';
import { useLabPage } from './labPage.ts';
import { STORIES260K_DIR } from '../../lab/fixtures.ts';
import { describeModel } from '../../lab/harnessJob.ts';
import type { Harness } from '../../lab/harness/main.ts';
import { DEFAULT_SAMPLING } from '../../src/engine/generate/sampler.ts';

const { call } = useLabPage<Harness>('lab/harness/index.html', 'harness');

describe('sampling on the GPU', () => {
  const cases = [
    { vocab: 512, dtype: 'f32', ks: [1, 5, 40, 64], rows: 12 },
    { vocab: 512, dtype: 'f16', ks: [1, 40, 64], rows: 8 },
    { vocab: 32000, dtype: 'f16', ks: [1, 64], rows: 4 },
    { vocab: 151936, dtype: 'f32', ks: [1, 40], rows: 4 },
    { vocab: 151936, dtype: 'f16', ks: [40], rows: 4 },
  ] as const;
  for (const c of cases) {
    it(`picks the same k best logits as the CPU, leaves the penalized ids out, and the sampler draws the same ids from them (${c.dtype}, vocab ${c.vocab})`, async () => {
      const result = await call('topLogitsCheck', { ...c, ks: [...c.ks], seed: c.vocab + c.rows });
      expect(result.mismatches).toEqual([]);
      expect(result.checked).toBe(c.ks.length * c.rows);
      expect(result.withPenalized).toBeGreaterThanOrEqual(c.ks.length * Math.floor((3 * c.rows) / 4));
      expect(result.draws).toBeGreaterThan(c.ks.length * c.rows * 5);
      expect(result.penalizedDraws).toBeGreaterThan(c.ks.length * c.rows * 10);
      // NaN or +Infinity make the caller fall back to the whole row, where the CPU sampler reports them.
      expect(result.specials).toEqual({ nan: true, inf: true, allMasked: true, nanPenalized: true });
    });
  }

  const model = describeModel(STORIES260K_DIR);
  // The app's defaults run long enough for the 64 recent ids to turn over.
  for (const [sampling, maxTokens] of [
    [{ temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0 }, 24],
    [{ temperature: 0.9, topK: 40, topP: 0.9, repetitionPenalty: 1, seed: 7 }, 24],
    [{ temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1.5, seed: 0 }, 24],
    [{ ...DEFAULT_SAMPLING, seed: 11 }, 100],
  ] as const) {
    it(`generates the same ids from the GPU's pick as from the whole logits read back (temperature ${sampling.temperature}, penalty ${sampling.repetitionPenalty})`, async () => {
      const { gpuIds, cpuIds, picked, bytesPerToken } = await call('sampleBothWays', { model, promptIds: [1, 403, 407], maxTokens, sampling });
      expect(gpuIds).toEqual(cpuIds);
      expect(gpuIds).toHaveLength(maxTokens);
      // Every token after the first (which follows the prompt's whole row) took the GPU path.
      expect(picked).toBe(maxTokens - 1);
      // bad, count, 64 ids and 64 values, and the raw value of each distinct recent id under a penalty.
      const stream = [1, 403, 407, ...gpuIds];
      let expected = 0;
      for (let t = 1; t < gpuIds.length; t++) {
        const recent = sampling.repetitionPenalty === 1 ? 0 : new Set(stream.slice(0, 3 + t).slice(-64)).size;
        expected += 520 + 4 * recent;
      }
      expect(bytesPerToken).toBe(expected / (gpuIds.length - 1));
      expect(bytesPerToken).toBeLessThan(1024);
    });
  }
});
