// The one scorer (src/engine/eval/score.ts) on a model that copies from what its cache lets it
// see: per-token NLL from the logits, chunks and a prefill as asked, recomputation feeding each
// token's visible set afresh, a stop keeping what was scored, and ids outside the vocabulary refused.

import { describe, expect, it } from 'vitest';
import { negLogLikelihood, scoreIds } from '../../../src/engine/eval/score.ts';
import { CopyingModel, encode, VOCAB } from './fakeModel.ts';
import { EngineError } from '../../../src/protocol/errors.ts';

/** A text whose second half repeats its first: copied when the first half is still visible. */
const text = (half: string) => encode(`\u0001${half}${half}`);
const CONFIDENT = Math.log(Math.exp(12) + VOCAB - 1) - 12;
const UNSURE = Math.log(VOCAB);

describe('scoreIds', () => {
  it('gives the NLL of every id after the first from the logits before it', () => {
    const logits = [0.5, -1, 2, 0];
    const expected = Math.log(logits.reduce((a, x) => a + Math.exp(x), 0)) - logits[2];
    expect(negLogLikelihood(logits, 0, 4, 2)).toBeCloseTo(expected, 12);
    expect(negLogLikelihood([9, ...logits], 1, 4, 2)).toBeCloseTo(expected, 12);
  });

  it('scores in chunks after a prefill, and a dense cache copies what it saw', async () => {
    const model = new CopyingModel(8);
    const ids = text('the whale went down.');
    const scored = await model.withCache({ mode: 'dense', nSinks: 0, windowSize: ids.length, maxChunk: 8 }, (runner) => scoreIds(runner, ids, { chunk: 8, prefill: 5 }));
    expect(scored.complete).toBe(true);
    expect(scored.nll).toHaveLength(ids.length - 1);
    expect(scored.msPerToken).toHaveLength(ids.length - 1);
    // One prefill of 5, then chunks of 8; the last id is scored, never fed.
    expect(model.feeds).toEqual([5, 8, 8, 8, 8, 3]);
    // After the first six characters of the repeat, every next character is copied.
    const half = (ids.length - 1) / 2;
    expect(scored.nll.slice(half + 6).every((x) => Math.abs(x - CONFIDENT) < 1e-6)).toBe(true);
    expect(scored.nll.slice(0, 6).every((x) => Math.abs(x - UNSURE) < 1e-6)).toBe(true);
  });

  it('a window too short for the repeat cannot copy it; recomputation feeds each token its visible set', async () => {
    const ids = text('call me ishmael, some years ago.');
    const half = (ids.length - 1) / 2;
    const model = new CopyingModel(16);
    const window = await model.withCache({ mode: 'window', nSinks: 0, windowSize: 10, maxChunk: 16 }, (runner) => scoreIds(runner, ids, { chunk: 16 }));
    expect(window.nll.slice(half).every((x) => Math.abs(x - UNSURE) < 1e-6)).toBe(true);
    const recompute = new CopyingModel(16);
    const fresh = await recompute.withCache({ mode: 'dense', nSinks: 0, windowSize: 10, maxChunk: 8 }, (runner) => scoreIds(runner, ids, { chunk: 16, recompute: { sinks: 0, window: 10 } }));
    // Token t is scored from min(t + 1, 10) ids fed afresh.
    expect(recompute.feeds).toEqual(ids.slice(0, -1).map((_, t) => Math.min(t + 1, 10)));
    expect(fresh.nll).toEqual(window.nll);
  });

  it('a stop ends scoring between feeds, keeping what was scored', async () => {
    const model = new CopyingModel(8);
    const ids = text('a long and winding text to score.');
    const stop = new AbortController();
    const scored = await model.withCache({ mode: 'streaming', nSinks: 2, windowSize: 20, maxChunk: 8 }, (runner) =>
      scoreIds(runner, ids, { chunk: 8, signal: stop.signal, onScored: (nll) => nll.length > 0 && stop.abort() }),
    );
    expect(scored).toMatchObject({ complete: false });
    expect(scored.nll).toHaveLength(8);
  });

  it('refuses an id outside the vocabulary with a sentence', async () => {
    const model = new CopyingModel(8);
    const error = await model.withCache({ mode: 'window', nSinks: 0, windowSize: 8, maxChunk: 8 }, (runner) => scoreIds(runner, [1, VOCAB + 3], { chunk: 8 }).then(() => null, (e: unknown) => e));
    expect(error).toBeInstanceOf(EngineError);
    expect((error as EngineError).code).toBe('CONFIG_INVALID');
    expect((error as EngineError).message).toMatch(/outside the model's vocabulary of 128/);
  });
});
