// Sampling on the GPU (shaders/argmax.wgsl through TopLogitsKernel) in headless Chromium: the k
// best logits it reads back are exactly the CPU's, the sampler draws from them exactly what it
// draws from the whole row, and a generation on stories260K is the same id for id either way.

import { describe, expect, it } from 'vitest';
import { useLabPage } from './labPage.ts';
import { STORIES260K_DIR } from '../../lab/fixtures.ts';
import { describeModel } from '../../lab/harnessJob.ts';
import type { Harness } from '../../lab/harness/main.ts';

const { call } = useLabPage<Harness>('lab/harness/index.html', 'harness');

describe('sampling on the GPU', () => {
  const cases = [
    { vocab: 512, dtype: 'f32', ks: [1, 5, 40, 64], rows: 8 },
    { vocab: 32000, dtype: 'f16', ks: [1, 64], rows: 4 },
    { vocab: 151936, dtype: 'f32', ks: [1, 40], rows: 2 },
  ] as const;
  for (const c of cases) {
    it(`picks the same k best logits as the CPU and the sampler draws the same ids from them (${c.dtype}, vocab ${c.vocab})`, async () => {
      const result = await call('topLogitsCheck', { ...c, ks: [...c.ks], seed: c.vocab });
      expect(result.mismatches).toEqual([]);
      expect(result.checked).toBe(c.ks.length * c.rows);
      expect(result.draws).toBeGreaterThan(c.ks.length * c.rows * 5);
      // NaN or +Infinity make the caller fall back to the whole row, where the CPU sampler reports them.
      expect(result.specials).toEqual({ nan: true, inf: true, allMasked: true });
    });
  }

  const model = describeModel(STORIES260K_DIR);
  for (const sampling of [
    { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0 },
    { temperature: 0.9, topK: 40, topP: 0.9, repetitionPenalty: 1, seed: 7 },
  ]) {
    it(`generates the same ids from the GPU's pick as from the whole logits read back (temperature ${sampling.temperature})`, async () => {
      const { gpuIds, cpuIds, picked } = await call('sampleBothWays', { model, promptIds: [1, 403, 407], maxTokens: 24, sampling });
      expect(gpuIds).toEqual(cpuIds);
      expect(gpuIds).toHaveLength(24);
      expect(picked).toBe(23);
    });
  }
});
