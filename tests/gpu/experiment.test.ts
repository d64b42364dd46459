// The experiment as the engine runs it, on the real stories260K model in headless Chromium: its
// arms score on caches of their own beside the chat's, through the harness's own scorer (the same
// per-token NLL as a harness job on the same ids), and the chat goes on afterwards with the same
// cache, byte for byte. A stop is tested in tests/unit/experiment/experiment.test.ts and in the
// app by tests/e2e/experiment.test.ts.

import { describe, expect, it } from 'vitest';
import { useLabPage } from './labPage.ts';
import { STORIES260K_DIR } from '../../lab/fixtures.ts';
import { describeModel, type PageJob } from '../../lab/harnessJob.ts';
import type { ExperimentBesideChatJob, Harness } from '../../lab/harness/main.ts';
import type { CacheChoice, ExperimentArm } from '../../src/protocol/messages.ts';

const { call } = useLabPage<Harness>('lab/harness/index.html', 'harness');

const model = describeModel(STORIES260K_DIR);
/** The chat's cache: as the app's story-model default, a window the experiment's arms differ from. */
const CHAT_CACHE: CacheChoice = { mode: 'streaming', nSinks: 4, windowSize: 96, maxChunk: 64, rollbackSlots: 64, dtype: 'f32' };
const TOKENS = 160;
// Window and dense are checked against the harness in the app (tests/e2e/experiment.test.ts); here
// the arm with sinks and eviction, and recomputation, which only this test covers.
const ARMS: ExperimentArm[] = [
  { label: 'StreamingLLM 4+28', mode: 'streaming', sinks: 4, window: 28 },
  { label: 'recompute 0+32, first 40', mode: 'recompute', sinks: 0, window: 32, limit: 40 },
];
const HARNESS_CASES: Pick<PageJob, 'mode' | 'cache' | 'chunk'>[] = [
  { mode: 'streaming', cache: { sinks: 4, window: 28 }, chunk: 64 },
  { mode: 'recompute', cache: { sinks: 0, window: 32 }, chunk: 64 },
];

const job = (plan: Partial<ExperimentBesideChatJob['plan']>): ExperimentBesideChatJob => ({
  model,
  cache: CHAT_CACHE,
  plan: { textUrl: '/texts/moby-dick.txt', tokens: TOKENS, arms: ARMS, ...plan },
});

const maxAbsDiff = (a: number[], b: number[]) => {
  expect(a.length).toBe(b.length);
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
};

describe('the experiment beside the chat', () => {
  it('scores each arm as a harness job scores the same ids, and leaves the chat its cache', { timeout: 600_000 }, async () => {
    const run = await call('experimentBesideChat', job({ recall: { sinks: 4, window: 28, distances: [40], dense: true } }));
    const { result } = run;
    expect(result.arms.map((a) => a.status)).toEqual(['done', 'done']);
    expect(result.trainedContext).toBe(512);
    expect(result.chunk).toBe(64);
    for (const arm of result.arms) expect(arm.nll.length).toBe(arm.ids.length - 1);
    expect(result.arms.map((a) => a.ids.length)).toEqual([TOKENS, 40]);
    // The book from BOS, through the model's tokenizer.
    expect(result.arms[0].ids[0]).toBe(1);
    // Progress reported every score, arm by arm.
    expect(run.reports).toEqual(result.arms.map((a, arm) => ({ arm, ids: a.nll.length })));

    for (const [i, c] of HARNESS_CASES.entries()) {
      const [harness] = await call('scoreCases', model, result.arms[i].ids, [c]);
      const diff = maxAbsDiff(result.arms[i].nll, harness);
      console.log(`${result.arms[i].arm.label}: max |app - harness| per-token NLL ${diff.toExponential(2)} over ${harness.length} tokens`);
      expect(diff).toBeLessThan(1e-4);
    }
    // Past the window the two differ: the arms are not one cache under two names.
    expect(maxAbsDiff(result.arms[0].nll.slice(0, 39), result.arms[1].nll)).toBeGreaterThan(1e-3);

    // 40 tokens between the fact and its question is beyond a window of 28; stories260K cannot copy
    // from its context (eval/results/recall.md), so whether it answers is not asserted here.
    expect(result.recall.map((r) => r.distance)).toEqual([40]);
    expect(result.recall[0].insideWindow).toBe(false);
    expect(result.recall.every((r) => r.answeredDense !== null)).toBe(true);

    expect(run.snapshotUnchanged).toBe(true);
    expect(run.next).toEqual({ how: 'continued', text: run.reference.text });
    expect(run.reference.how).toBe('continued');
  });

});
