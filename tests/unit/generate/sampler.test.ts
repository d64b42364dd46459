import { describe, expect, it } from 'vitest';
import { DEFAULT_SAMPLING, Sampler, validateSampling } from '../../../src/engine/generate/sampler.ts';
import type { SamplingParams } from '../../../src/protocol/messages.ts';
import { EngineError } from '../../../src/protocol/errors.ts';
import { cpuPick, lcg, randomPenalized, randomRow } from '../../../lab/topPick.ts';

const PLAIN: SamplingParams = { temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1, seed: 1 };

function sampler(overrides: Partial<SamplingParams>): Sampler {
  return new Sampler({ ...PLAIN, ...overrides });
}

/** Draws n ids and returns how often each came up, as fractions. */
function frequencies(s: Sampler, logits: number[], n: number): number[] {
  const counts = new Array<number>(logits.length).fill(0);
  const l = Float32Array.from(logits);
  for (let i = 0; i < n; i++) counts[s.sample(l, [])]++;
  return counts.map((c) => c / n);
}

function softmax(logits: number[], temperature = 1): number[] {
  const max = Math.max(...logits);
  const e = logits.map((x) => Math.exp((x - max) / temperature));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof EngineError ? e.code : `not an EngineError: ${String(e)}`;
  }
  return undefined;
}

/** Deterministic pseudo-random logits for tests that need a large vocabulary. */
function randomLogits(n: number, seed: number): Float32Array {
  let x = seed;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = (x / 2 ** 32) * 10 - 5;
  }
  return out;
}

/**
 * The exact distribution sample() must draw from, computed the slow, obvious way in the Hugging Face
 * order: repetition penalty, temperature, softmax over the whole vocabulary, top-k by a full sort
 * (lower id first among equal logits), renormalise, top-p (smallest best-first prefix reaching topP),
 * renormalise. Greedy is left out: it has no distribution.
 */
function referenceDistribution(logits: readonly number[], p: SamplingParams, recent: readonly number[] = []): number[] {
  const work = [...logits];
  if (p.repetitionPenalty !== 1) for (const id of new Set(recent)) work[id] = logits[id] > 0 ? logits[id] / p.repetitionPenalty : logits[id] * p.repetitionPenalty;
  let probs = softmax(work, p.temperature);
  const order = [...work.keys()].sort((a, b) => work[b] - work[a] || a - b);
  const keep = (ids: number[]) => {
    const kept = new Set(ids);
    const total = ids.reduce((sum, id) => sum + probs[id], 0);
    probs = probs.map((x, id) => (kept.has(id) ? x / total : 0));
  };
  if (p.topK > 0 && p.topK < logits.length) keep(order.slice(0, p.topK));
  if (p.topP < 1) {
    let acc = 0;
    let n = 0;
    while (n < order.length && acc < p.topP) acc += probs[order[n++]];
    keep(order.slice(0, n));
  }
  return probs;
}

/** Draws n ids and checks they come only from the reference's support, with its frequencies. */
function expectDrawsFollow(s: Sampler, logits: readonly number[], recent: readonly number[], want: number[], n = 20_000): void {
  const counts = new Array<number>(logits.length).fill(0);
  const l = Float32Array.from(logits);
  for (let i = 0; i < n; i++) counts[s.sample(l, recent)]++;
  const support = (xs: number[]) => xs.flatMap((x, id) => (x > 0 ? [id] : []));
  expect(support(counts), 'ids drawn').toEqual(support(want));
  // Four standard deviations of a frequency estimated from n draws.
  for (let id = 0; id < want.length; id++) {
    const sd = Math.sqrt((want[id] * (1 - want[id])) / n);
    expect(Math.abs(counts[id] / n - want[id]), `token ${id}: drew ${counts[id] / n}, want ${want[id]}`).toBeLessThanOrEqual(4 * sd + 1e-12);
  }
}

describe('Sampler', () => {
  describe('each setting changes the answer, and the draws follow the distribution computed the slow way', () => {
    // Eight tokens with a long, uneven tail: every setting below cuts or reshapes it differently.
    const logits = [2.2, 2.0, 1.7, 1.0, 0.4, 0.0, -0.5, -1.5];
    const recent = [0, 3];
    const base: SamplingParams = { temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1, seed: 21 };
    const cases: { name: string; on: Partial<SamplingParams>; off: Partial<SamplingParams> }[] = [
      { name: 'top-k 3 keeps only the three best', on: { topK: 3 }, off: { topK: 0 } },
      { name: 'top-p 0.6 keeps the nucleus', on: { topP: 0.6 }, off: { topP: 1 } },
      { name: 'temperature 0.4 sharpens, under top-k 4', on: { temperature: 0.4, topK: 4 }, off: { temperature: 1, topK: 4 } },
      { name: 'temperature 2 widens the nucleus of top-p 0.7', on: { temperature: 2, topP: 0.7 }, off: { temperature: 1, topP: 0.7 } },
      { name: 'repetition penalty 1.8 reorders the top-2 set', on: { repetitionPenalty: 1.8, topK: 2 }, off: { repetitionPenalty: 1, topK: 2 } },
      { name: 'top-p 0.8 after top-k 5 is measured within the five', on: { topK: 5, topP: 0.8 }, off: { topK: 5, topP: 1 } },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const on = { ...base, ...c.on };
        const want = referenceDistribution(logits, on, recent);
        const without = referenceDistribution(logits, { ...base, ...c.off }, recent);
        // The case is only worth running if the setting moves the distribution by a visible amount.
        expect(Math.max(...want.map((x, id) => Math.abs(x - without[id])))).toBeGreaterThan(0.05);
        expectDrawsFollow(new Sampler(on), logits, recent, want);
      });
    }
  });

  it('top-p without top-k measures the nucleus against the whole vocabulary, also when the tail too small to reach it is pruned first', () => {
    // Token 0 holds 0.6, token 1 0.22, tokens 2..6 0.017 each (0.905 in all); the other 993 share
    // 0.095, each below (1 - 0.9) / vocab, so the sampler prunes them before sorting. A nucleus of 0.9
    // of the whole vocabulary is tokens 0..6; 0.9 of what is left after pruning (0.8145) would be
    // tokens 0 and 1 only.
    const vocab = 1000;
    const probs = new Array<number>(vocab).fill(0.095 / (vocab - 7));
    probs.splice(0, 7, 0.6, 0.22, 0.017, 0.017, 0.017, 0.017, 0.017);
    const logits = probs.map(Math.log);
    const p = { ...PLAIN, topP: 0.9, seed: 13 };
    const want = referenceDistribution(logits, p);
    expect(want.filter((x) => x > 0)).toHaveLength(7);
    expectDrawsFollow(new Sampler(p), logits, [], want);
  });

  it('top-k keeps the lowest ids among equal logits when a later, larger logit pushes one of them out', () => {
    // Ids 0, 1, 2 tie; id 3 is larger. The top 2 are 3 and 0 (not 3 and 1).
    const logits = [1, 1, 1, 2];
    const p = { ...PLAIN, topK: 2, temperature: 5, seed: 17 };
    expectDrawsFollow(new Sampler(p), logits, [], referenceDistribution(logits, p), 5000);
  });

  it('greedy decoding picks the largest logit, and the lowest id among ties', () => {
    const s = sampler({ temperature: 0 });
    expect(s.sample(Float32Array.from([0.1, 3, -2, 2.9]), [])).toBe(1);
    expect(s.sample(Float32Array.from([1, 5, 5, 5]), [])).toBe(1);
    expect(s.sample(Float32Array.from([-Infinity, -7, -Infinity]), [])).toBe(1);
  });

  it('the repetition penalty divides positive logits and multiplies negative ones, which can change the argmax', () => {
    const s = sampler({ temperature: 0, repetitionPenalty: 1.2 });
    expect(s.sample(Float32Array.from([2, 1.8, -1]), [])).toBe(0);
    expect(s.sample(Float32Array.from([2, 1.8, -1]), [0])).toBe(1); // 2 / 1.2 < 1.8
    expect(s.sample(Float32Array.from([-1, -1.1]), [0])).toBe(1); // -1 * 1.2 < -1.1
  });

  it('the repetition penalty hits a token once however often it appears in the recent ids', () => {
    const s = sampler({ temperature: 0, repetitionPenalty: 1.2 });
    // Penalised once: 2 / 1.2 = 1.67 > 1.5; three times would give 1.16.
    expect(s.sample(Float32Array.from([2, 1.5]), [0, 0, 0])).toBe(0);
  });

  it('does not modify the logits it is given', () => {
    const logits = Float32Array.from([2, 1, -1, 0.5]);
    sampler({ repetitionPenalty: 1.3, topK: 2, topP: 0.9 }).sample(logits, [0, 2]);
    expect([...logits]).toEqual([2, 1, -1, 0.5]);
  });

  it('the same seed gives the same draws and different seeds give different draws', () => {
    const logits = new Array<number>(10).fill(0);
    const draw = (seed: number) => {
      const s = sampler({ seed });
      return Array.from({ length: 50 }, () => s.sample(Float32Array.from(logits), []));
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
    expect(draw(0)).not.toEqual(draw(1));
  });

  it('at temperature 1 the draws follow the softmax of the logits', () => {
    const logits = [1, 2, 0.5, -1, 3];
    const got = frequencies(sampler({ seed: 7 }), logits, 20_000);
    const want = softmax(logits);
    for (let i = 0; i < logits.length; i++) expect(Math.abs(got[i] - want[i]), `token ${i}: got ${got[i]}, want ${want[i]}`).toBeLessThan(0.012);
  });

  it('a temperature of 0.5 sharpens the draws to the softmax of twice the logits', () => {
    const logits = [1, 2, 0.5, -1, 3];
    const got = frequencies(sampler({ seed: 9, temperature: 0.5 }), logits, 20_000);
    const want = softmax(logits, 0.5);
    for (let i = 0; i < logits.length; i++) expect(Math.abs(got[i] - want[i]), `token ${i}: got ${got[i]}, want ${want[i]}`).toBeLessThan(0.012);
  });

  it('as the temperature goes to 0 sampling agrees with greedy decoding', () => {
    // The runner-up is 0.05 behind: at T = 0.1 it still wins sometimes, at T = 0.001 essentially never.
    const logits = Float32Array.from([1, 1.45, 1.5, -2, 0.3]);
    const greedy = sampler({ temperature: 0 }).sample(logits, []);
    expect(greedy).toBe(2);
    const runnerUp = (temperature: number) => frequencies(sampler({ temperature, seed: 5 }), [...logits], 2000)[1];
    expect(runnerUp(0.1)).toBeGreaterThan(0.3);
    expect(runnerUp(0.01)).toBeLessThan(0.02);
    expect(runnerUp(1e-3)).toBe(0);
  });

  it('top-k never samples outside the k largest logits and reaches all of them', () => {
    const logits = randomLogits(5000, 11);
    const best = [...logits.keys()].sort((a, b) => logits[b] - logits[a]).slice(0, 5);
    const s = sampler({ topK: 5, temperature: 20, seed: 2 });
    const seen = new Set<number>();
    for (let i = 0; i < 3000; i++) seen.add(s.sample(logits, []));
    expect([...seen].sort((a, b) => a - b)).toEqual([...best].sort((a, b) => a - b));
  });

  it('top-k keeps the lowest ids among equal logits', () => {
    const s = sampler({ topK: 3, seed: 4 });
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) seen.add(s.sample(new Float32Array(10), []));
    expect([...seen].sort()).toEqual([0, 1, 2]);
  });

  it('top-p keeps exactly the nucleus and renormalises within it', () => {
    const logits = [0.5, 0.3, 0.15, 0.05].map(Math.log);
    const two = frequencies(sampler({ topP: 0.75, seed: 8 }), logits, 20_000);
    expect(two[2] + two[3]).toBe(0);
    expect(Math.abs(two[0] - 0.5 / 0.8)).toBeLessThan(0.012);
    const three = frequencies(sampler({ topP: 0.85, seed: 8 }), logits, 20_000);
    expect(three[3]).toBe(0);
    expect(Math.abs(three[2] - 0.15 / 0.95)).toBeLessThan(0.012);
  });

  it('top-p over a large vocabulary keeps a nucleus made of many small tokens', () => {
    // Token 999 holds half the probability and 999 equal tokens share the rest, so a nucleus of
    // 0.9 is token 999 plus the 800 lowest ids (0.5 + 800 * 0.5 / 999 >= 0.9).
    const vocab = 1000;
    const logits = new Float32Array(vocab).fill(Math.log(0.5 / (vocab - 1)));
    logits[vocab - 1] = Math.log(0.5);
    const s = sampler({ topP: 0.9, seed: 10 });
    let top = 0;
    let highestSmall = -1;
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const id = s.sample(logits, []);
      if (id === vocab - 1) top++;
      else highestSmall = Math.max(highestSmall, id);
    }
    expect(highestSmall).toBe(799);
    expect(Math.abs(top / n - 0.5 / 0.9)).toBeLessThan(0.015);
  });

  it('top-p always keeps the most likely token', () => {
    const s = sampler({ topP: 0.01, seed: 3 });
    for (let i = 0; i < 200; i++) expect(s.sample(Float32Array.from([0, 0.2, 0.1]), [])).toBe(1);
  });

  it('top-p applies to the probabilities renormalised after top-k, as in transformers', () => {
    // Within the top 3 the probabilities are 4/9, 3/9, 2/9, so 0.75 is reached by two tokens;
    // over the whole vocabulary 0.4 + 0.3 would fall short and a third token would be kept.
    const logits = [0.4, 0.3, 0.2, 0.1].map(Math.log);
    const f = frequencies(sampler({ topK: 3, topP: 0.75, seed: 6 }), logits, 5000);
    expect(f[2] + f[3]).toBe(0);
    expect(f[0]).toBeGreaterThan(0);
    expect(f[1]).toBeGreaterThan(0);
  });

  it('tokens masked with -Infinity are never sampled', () => {
    const s = sampler({ seed: 12, temperature: 5 });
    for (let i = 0; i < 2000; i++) expect(s.sample(Float32Array.from([-Infinity, 0, -Infinity, 0]), []) % 2).toBe(1);
  });

  it('NaN or +Infinity in the logits, or every logit at -Infinity, is reported as MODEL_CORRUPT', () => {
    for (const temperature of [0, 1]) {
      const s = sampler({ temperature });
      expect(codeOf(() => s.sample(Float32Array.from([0, NaN, 1]), []))).toBe('MODEL_CORRUPT');
      expect(codeOf(() => s.sample(Float32Array.from([0, Infinity]), []))).toBe('MODEL_CORRUPT');
      expect(codeOf(() => s.sample(Float32Array.from([-Infinity, -Infinity]), []))).toBe('MODEL_CORRUPT');
    }
  });

  it('a recent id outside the vocabulary is refused as CONFIG_INVALID', () => {
    const s = sampler({ repetitionPenalty: 1.1 });
    expect(codeOf(() => s.sample(new Float32Array(4), [4]))).toBe('CONFIG_INVALID');
  });

  it('refuses out-of-range settings with CONFIG_INVALID and accepts the defaults', () => {
    expect(codeOf(() => validateSampling(DEFAULT_SAMPLING))).toBeUndefined();
    const bad: Partial<SamplingParams>[] = [
      { temperature: -0.1 },
      { temperature: NaN },
      { temperature: Infinity },
      { topK: -1 },
      { topK: 2.5 },
      { topP: 0 },
      { topP: 1.01 },
      { topP: NaN },
      { repetitionPenalty: 0 },
      { repetitionPenalty: -1 },
      { repetitionPenalty: Infinity },
      { seed: -1 },
      { seed: 1.5 },
      { seed: 2 ** 32 },
    ];
    for (const b of bad) {
      expect(codeOf(() => new Sampler({ ...PLAIN, ...b })), JSON.stringify(b)).toBe('CONFIG_INVALID');
    }
  });
});

describe('Sampler.sampleTop', () => {
  it('asks for the best logits only when they decide the pick: greedy 1, top-k k, with or without a repetition penalty', () => {
    expect(sampler({ temperature: 0 }).topNeeded(1000)).toBe(1);
    expect(sampler({ topK: 40 }).topNeeded(1000)).toBe(40);
    expect(sampler({ topK: 40, topP: 0.9 }).topNeeded(1000)).toBe(40);
    expect(sampler({ topK: 0, topP: 0.9 }).topNeeded(1000)).toBeNull();
    expect(sampler({ topK: 1000 }).topNeeded(1000)).toBeNull();
    expect(sampler({ temperature: 0, repetitionPenalty: 1.1 }).topNeeded(1000)).toBe(1);
    expect(sampler({ topK: 40, repetitionPenalty: 1.1 }).topNeeded(1000)).toBe(40);
    expect(sampler({ ...DEFAULT_SAMPLING }).topNeeded(151_936)).toBe(40);
    expect(sampler({ topK: 0, topP: 0.9, repetitionPenalty: 1.1 }).topNeeded(1000)).toBeNull();
  });

  it('under a repetition penalty picks exactly what sample() picks from the whole row, draw for draw: penalties above and below 1, negative logits, ties, masked and duplicate recent ids', () => {
    const settings: Partial<SamplingParams>[] = [
      { temperature: 0, repetitionPenalty: 1.1 },
      { temperature: 0, repetitionPenalty: 0.8 },
      { temperature: 0, repetitionPenalty: 2 },
      { ...DEFAULT_SAMPLING },
      { temperature: 0.7, topK: 40, topP: 0.9, repetitionPenalty: 1.1, seed: 5 },
      { temperature: 1.3, topK: 5, repetitionPenalty: 1.5, seed: 6 },
      { temperature: 0.5, topK: 64, topP: 0.5, repetitionPenalty: 0.8, seed: 7 },
      { temperature: 2, topK: 1, repetitionPenalty: 2, seed: 8 },
      { temperature: 0.9, topK: 20, topP: 0.95, repetitionPenalty: 1.001, seed: 9 },
    ];
    let compared = 0;
    let reordered = 0;
    for (const s of settings) {
      const full = sampler(s);
      const top = sampler(s);
      const rand = lcg(1000 + compared);
      for (let row = 0; row < 120; row++) {
        const vocab = row % 3 === 0 ? 3000 : 512;
        const logits = randomRow(vocab, row, rand);
        const recent = randomPenalized(logits, row, 64, rand);
        const k = top.topNeeded(vocab)!;
        const pick = cpuPick(logits, k, recent);
        for (let d = 0; d < 3; d++) {
          const want = outcome(() => full.sample(logits, recent));
          expect(outcome(() => top.sampleTop(pick)), `${JSON.stringify(s)} row ${row} draw ${d}`).toBe(want);
          compared++;
        }
        // The case is worth running only if the penalty changes the k best now and then.
        const penalized = Float32Array.from(logits);
        for (const id of new Set(recent)) penalized[id] = logits[id] > 0 ? logits[id] / s.repetitionPenalty! : logits[id] * s.repetitionPenalty!;
        if ([...cpuPick(penalized, k).ids].join() !== [...cpuPick(logits, k).ids].join()) reordered++;
      }
    }
    expect(compared).toBe(settings.length * 120 * 3);
    expect(reordered).toBeGreaterThan(settings.length * 30);
  }, 60_000);

  it('under a repetition penalty the merge of the best rest and the penalized ids keeps the sampler\'s order', () => {
    // Ids 2 and 5 are recent (5 twice). Raw, 5 is best and 1, 2, 3 tie; after a penalty of 2 the
    // row is [-1, 1, 0.5, 1, -Infinity, 1]: 1, 3 and 5 tie for best, 2 falls behind.
    const logits = Float32Array.from([-1, 1, 1, 1, -Infinity, 2]);
    const recent = [5, 2, 5];
    for (const temperature of [0, 1000]) {
      const s = { temperature, topK: 3, repetitionPenalty: 2, seed: 3 };
      const [full, top] = [sampler(s), sampler(s)];
      const seen = new Set<number>();
      for (let i = 0; i < 300; i++) {
        const id = top.sampleTop(cpuPick(logits, top.topNeeded(logits.length)!, recent));
        expect(id).toBe(full.sample(logits, recent));
        seen.add(id);
      }
      // The three best after the penalty are 1, 3 and 5 (all 1), the lower id first: greedy picks 1.
      expect([...seen].sort()).toEqual(temperature === 0 ? [1] : [1, 3, 5]);
    }
  });

  it('picks exactly what sample() picks from the whole row, draw for draw, with ties and masked tokens', () => {
    const settings: Partial<SamplingParams>[] = [
      { temperature: 0 },
      { temperature: 0.7, topK: 1 },
      { temperature: 0.7, topK: 5 },
      { temperature: 1.3, topK: 40, topP: 0.9 },
      { temperature: 0.9, topK: 64, topP: 0.5, seed: 99 },
    ];
    for (const s of settings) {
      const full = sampler(s);
      const top = sampler(s);
      for (let row = 0; row < 80; row++) {
        const logits = randomLogits(3000, row + 17);
        // Coarse values make many ties; some tokens are masked.
        if (row % 2) for (let i = 0; i < logits.length; i++) logits[i] = Math.round(logits[i] * 2) / 2;
        for (let i = row % 7; i < logits.length; i += 97) logits[i] = -Infinity;
        const k = top.topNeeded(logits.length)!;
        expect(top.sampleTop(cpuPick(logits, k)), `${JSON.stringify(s)} row ${row}`).toBe(full.sample(logits, []));
      }
    }
  });

  it('sample() keeps the same k best as a full sort on rows whose k-th place is tied', () => {
    // Few distinct values, so ties straddle the k-th place and larger logits arrive after tied ones.
    // At temperature 1000 the candidates are near-equally likely, so 400 draws show the whole set.
    for (let row = 0; row < 60; row++) {
      const logits = randomLogits(40, row + 101).map((x) => Math.floor(x / 2));
      const k = 3 + (row % 5);
      const s = sampler({ topK: k, temperature: 1000, seed: row });
      const seen = new Set<number>();
      for (let i = 0; i < 400; i++) seen.add(s.sample(logits, []));
      expect([...seen].sort((a, b) => a - b), `row ${row}, k ${k}`).toEqual([...cpuPick(logits, k).ids].sort((a, b) => a - b));
    }
  });

  it('fewer finite logits than k still give sample()\'s pick, and none at all is MODEL_CORRUPT', () => {
    const logits = new Float32Array(100).fill(-Infinity);
    logits[3] = 1;
    logits[70] = 2;
    const [a, b] = [sampler({ topK: 10, seed: 5 }), sampler({ topK: 10, seed: 5 })];
    for (let i = 0; i < 20; i++) expect(b.sampleTop(cpuPick(logits, b.topNeeded(100)!))).toBe(a.sample(logits, []));
    expect(codeOf(() => b.sampleTop({ ids: new Uint32Array(10), logits: new Float32Array(10), count: 0, penalized: cpuPick(logits, 0).penalized }))).toBe('MODEL_CORRUPT');
  });
});

/** The id drawn, or the error code where the sampler refuses the row. */
function outcome(draw: () => number): string {
  try {
    return String(draw());
  } catch (e) {
    return e instanceof EngineError ? e.code : String(e);
  }
}
