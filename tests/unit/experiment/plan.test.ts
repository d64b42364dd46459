// The Experiment view's form as data (src/features/experiment/plan.ts): the arms its settings make,
// named in plain words; the sentences that refuse a bad value; the time a run has left.

import { describe, expect, it } from 'vitest';
import { armFeeds, armsOf, defaultSettings, denseCapacity, planOf, timeLeft, validateExperiment, type ExperimentLimits } from '../../../src/features/experiment/plan.ts';

const LIMITS: ExperimentLimits = { textTokens: 149_439, chunk: 64, bytesPerToken: 2560, budgetBytes: 256 * 2 ** 20 };
const settings = { ...defaultSettings({ nSinks: 4, windowSize: 60 }, LIMITS.textTokens), tokens: 1200 };

describe('the arms', () => {
  it('by default: StreamingLLM as the chat keeps it, a plain window of the same size, dense as far as it goes', () => {
    expect(armsOf(settings, LIMITS)).toEqual([
      { label: 'StreamingLLM 4+60', mode: 'streaming', sinks: 4, window: 60 },
      { label: 'window 0+64', mode: 'window', sinks: 0, window: 64 },
      { label: 'dense', mode: 'dense', sinks: 0, window: 1200, limit: 1200 },
    ]);
  });

  it('dense stops where the memory budget does, and says so', () => {
    const small = { ...LIMITS, budgetBytes: 500 * 2560 };
    expect(denseCapacity(small)).toBe(500);
    expect(armsOf({ ...settings, streaming: false, plainWindow: false }, small)).toEqual([{ label: 'dense, first 500', mode: 'dense', sinks: 0, window: 500, limit: 500 }]);
  });

  it('the sink ablation keeps the cache size, and an arm asked twice runs once', () => {
    const arms = armsOf({ ...settings, dense: false, ablation: true }, LIMITS);
    expect(arms.map((a) => [a.mode, a.sinks, a.window])).toEqual([
      ['streaming', 4, 60],
      ['window', 0, 64],
      ['streaming', 1, 63],
      ['streaming', 2, 62],
      ['streaming', 8, 56],
    ]);
  });

  it('recomputation scores its capped stretch, at the same cache size', () => {
    const plan = planOf({ ...settings, streaming: false, plainWindow: false, dense: false, recompute: true, recomputeTokens: 200 }, LIMITS, { kind: 'text', title: 't', text: 'x' });
    expect(plan.arms).toEqual([{ label: 'recompute 0+64, first 200', mode: 'recompute', sinks: 0, window: 64, limit: 200 }]);
    expect(plan.recall).toEqual({ sinks: 4, window: 60, distances: [15, 128], dense: false });
    // 199 tokens, each a feed of the whole window: one 64-token chunk apiece.
    expect(armFeeds(plan.arms[0], 1200, 64)).toBe(199);
    expect(armFeeds({ label: '', mode: 'streaming', sinks: 4, window: 60 }, 1200, 64)).toBe(19);
  });
});

describe('validation', () => {
  it('accepts the defaults', () => {
    expect(validateExperiment(settings, LIMITS)).toEqual({});
  });

  it('refuses bad values with a sentence each', () => {
    const errors = validateExperiment({ ...settings, tokens: 200_000, sinks: -1, recompute: true, recomputeTokens: 5000, recallBeyond: 1.5 }, LIMITS);
    expect(errors.tokens).toBe('The text has 149,439 tokens; score at most that many.');
    expect(errors.sinks).toBe('Sinks must be a whole number of 0 or more.');
    expect(errors.recomputeTokens).toMatch(/^Recomputation scores 2 to 2,000 tokens/);
    expect(errors.recallBeyond).toBe('The distance must be a whole number of 0 or more tokens.');
  });

  it('refuses a cache larger than the budget an arm may use, an ablation with no room for 8 sinks, and no arm at all', () => {
    expect(validateExperiment({ ...settings, window: 200_000 }, LIMITS).window).toMatch(/^A cache of 200,004 tokens takes 488 MiB with this model, more than the 256 MiB an arm may use/);
    expect(validateExperiment({ ...settings, sinks: 2, window: 6, ablation: true }, LIMITS).ablation).toMatch(/make sinks \+ window larger than that/);
    expect(validateExperiment({ ...settings, streaming: false, plainWindow: false, dense: false }, LIMITS).arms).toBe('Choose at least one arm to run.');
  });
});

describe('time left', () => {
  it('reckons the rest of the run at the rate of the feeds done so far', () => {
    const plan = planOf({ ...settings, recompute: true, recomputeTokens: 65 }, LIMITS, { kind: 'text', title: 't', text: 'x' });
    // Feeds: 19 (streaming), 19 (window), 19 (dense), 64 (recompute: 64 tokens, one window each).
    expect(plan.arms.map((a) => armFeeds(a, plan.tokens, 64))).toEqual([19, 19, 19, 64]);
    expect(timeLeft(plan, 64, { startedAt: 0, done: [0, 0, 0, 0], current: 0 }, 1000)).toEqual({ arm: null, all: null });
    // The first arm done in 19 s: a feed a second.
    const left = timeLeft(plan, 64, { startedAt: 0, done: [1199, 0, 0, 0], current: 1 }, 19_000);
    expect(left.arm).toBeCloseTo(19, 6);
    expect(left.all).toBeCloseTo(19 + 19 + 64, 6);
  });
});
