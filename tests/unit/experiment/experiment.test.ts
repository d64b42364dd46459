// The experiment's run (src/engine/eval/experiment.ts) on a model that copies from what its cache
// lets it see: each arm on the cache its mode needs, progress that adds up to every score, a stop
// that keeps what was measured, and a recall check that finds a fact inside the window and not
// beyond it (dense finds it at any distance).

import { describe, expect, it } from 'vitest';
import { armCache, runExperiment } from '../../../src/engine/eval/experiment.ts';
import type { ExperimentArm, ExperimentPlan, ExperimentProgress } from '../../../src/protocol/messages.ts';
import { CopyingModel, encode } from './fakeModel.ts';

/** A sentence of 54 characters, over and over: copied wherever the cache still shows its last repeat. */
const SENTENCE = 'Call me Ishmael. Some years ago, never mind how long. ';
const FILLER = SENTENCE.repeat(12);
const textIds = [1, ...encode(FILLER)];

const plan = (arms: ExperimentArm[], extra: Partial<ExperimentPlan> = {}): ExperimentPlan => ({ text: { kind: 'text', title: 't', text: FILLER }, tokens: 200, arms, ...extra });
const STREAMING: ExperimentArm = { label: 'StreamingLLM 4+28', mode: 'streaming', sinks: 4, window: 28 };
const WINDOW: ExperimentArm = { label: 'window 0+32', mode: 'window', sinks: 0, window: 32 };
const DENSE: ExperimentArm = { label: 'dense', mode: 'dense', sinks: 0, window: 150, limit: 150 };
const RECOMPUTE: ExperimentArm = { label: 'recompute 0+32, first 90', mode: 'recompute', sinks: 0, window: 32, limit: 90 };

describe('runExperiment', () => {
  it('runs each arm on a cache of its own layout, over the ids it may score', async () => {
    const model = new CopyingModel(32);
    const { arms } = await runExperiment(model, textIds, plan([STREAMING, WINDOW, DENSE, RECOMPUTE]));
    expect(model.caches).toEqual([
      { mode: 'streaming', nSinks: 4, windowSize: 28, maxChunk: 32 },
      { mode: 'window', nSinks: 0, windowSize: 32, maxChunk: 32 },
      { mode: 'dense', nSinks: 0, windowSize: 150, maxChunk: 32 },
      { mode: 'dense', nSinks: 0, windowSize: 32, maxChunk: 32 },
    ]);
    expect(arms.map((a) => [a.status, a.ids.length, a.nll.length])).toEqual([['done', 200, 199], ['done', 200, 199], ['done', 150, 149], ['done', 90, 89]]);
    expect(arms[0].ids).toEqual(textIds.slice(0, 200));
    // Past the first sentence and 6 characters of context, dense copies every character; caches of
    // 32 tokens never see the last repeat, 54 characters back.
    const copied = (nll: number[]) => nll.slice(SENTENCE.length + 6, 149).filter((x) => x < 0.01).length;
    expect(copied(arms[2].nll)).toBe(149 - SENTENCE.length - 6);
    expect(copied(arms[0].nll)).toBe(0);
    expect(copied(arms[1].nll)).toBe(0);
    expect(arms[3].nll).toEqual(arms[1].nll.slice(0, 89));
  });

  it('a small dense cache takes the largest power-of-two chunk it holds', () => {
    expect(armCache({ ...DENSE, window: 40, limit: 40 }, 40, 64)).toEqual({ mode: 'dense', nSinks: 0, windowSize: 40, maxChunk: 32 });
    expect(armCache({ ...RECOMPUTE, window: 12 }, 90, 64)).toEqual({ mode: 'dense', nSinks: 0, windowSize: 12, maxChunk: 8 });
    expect(() => armCache({ ...STREAMING, window: 0 }, 90, 64)).toThrow(/window must be at least 1 token/);
  });

  it('reports every score as progress, arm by arm', async () => {
    const reports: ExperimentProgress[] = [];
    const { arms } = await runExperiment(new CopyingModel(16), textIds, plan([STREAMING, RECOMPUTE]), { onProgress: (p) => reports.push(p) });
    for (const [i, arm] of arms.entries()) {
      const mine = reports.filter((r) => r.kind === 'arm' && r.arm === i) as Extract<ExperimentProgress, { kind: 'arm' }>[];
      expect(mine.flatMap((r) => r.nll)).toEqual(arm.nll);
      expect(mine.at(-1)).toMatchObject({ done: arm.nll.length, total: arm.ids.length - 1 });
    }
  });

  it('a stop keeps the finished arms and what the running one measured, and runs nothing after', async () => {
    const stop = new AbortController();
    // Stop pressed while the second arm's third feed runs.
    const model = new CopyingModel(16, (cache, feeds) => cache === 1 && feeds === 3 && stop.abort());
    const { arms, recall } = await runExperiment(model, textIds, plan([STREAMING, WINDOW, DENSE], { recall: { sinks: 4, window: 28, distances: [0], dense: false } }), { signal: stop.signal });
    expect(arms.map((a) => a.status)).toEqual(['done', 'stopped', 'not-run']);
    expect(arms[1].nll).toHaveLength(3 * 16);
    expect(arms[2].nll).toEqual([]);
    expect(recall).toEqual([]);
  });

  it('recalls a planted fact while it is inside the window, not once it left; dense recalls it at any distance', async () => {
    const reports: ExperimentProgress[] = [];
    const { recall } = await runExperiment(new CopyingModel(32), textIds, plan([], { recall: { sinks: 4, window: 80, distances: [0, 300], dense: true } }), { onProgress: (p) => reports.push(p) });
    expect(reports).toEqual([{ kind: 'recall', done: 0, total: 2 }, { kind: 'recall', done: 1, total: 2 }]);
    expect(recall).toEqual([
      { distance: 0, insideWindow: true, answered: true, answeredDense: true },
      { distance: 300, insideWindow: false, answered: false, answeredDense: true },
    ]);
  });

  it('refuses a distance the text cannot fill, with a sentence', async () => {
    await expect(runExperiment(new CopyingModel(32), textIds, plan([], { recall: { sinks: 4, window: 60, distances: [5000], dense: false } }))).rejects.toThrow(
      /cannot be planted 5000 tokens before the question: the text holds \d+ tokens/,
    );
  });
});
