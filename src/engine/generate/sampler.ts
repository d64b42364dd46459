// Turning one logits vector into one token id: sampling settings, their validation, a seeded PRNG,
// and the Hugging Face order repetition penalty -> temperature -> top-k -> top-p -> draw.

import { EngineError } from '../../protocol/errors.ts';
import type { SamplingParams } from '../../protocol/messages.ts';
import type { TopLogits } from '../kernels/topLogits.ts';

export const DEFAULT_SAMPLING: Readonly<SamplingParams> = Object.freeze({
  temperature: 0.7,
  topK: 40,
  topP: 0.9,
  repetitionPenalty: 1.1,
  seed: 0,
});

const MAX_SEED = 0xffff_ffff;

/** Throws CONFIG_INVALID naming the first setting that is out of range. */
export function validateSampling(p: SamplingParams): void {
  const refuse = (message: string): never => {
    throw new EngineError('CONFIG_INVALID', message);
  };
  const { temperature, topK, topP, repetitionPenalty, seed } = p;
  if (!Number.isFinite(temperature) || temperature < 0) {
    refuse(`Temperature must be a number of 0 or more (0 always picks the most likely token); it is ${temperature}.`);
  }
  if (!Number.isInteger(topK) || topK < 0) {
    refuse(`Top-k must be a whole number of 0 or more (0 turns it off); it is ${topK}.`);
  }
  if (!Number.isFinite(topP) || topP <= 0 || topP > 1) {
    refuse(`Top-p must be above 0 and at most 1 (1 turns it off); it is ${topP}.`);
  }
  if (!Number.isFinite(repetitionPenalty) || repetitionPenalty <= 0) {
    refuse(`The repetition penalty must be a number above 0 (1 turns it off); it is ${repetitionPenalty}.`);
  }
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
    refuse(`The seed must be a whole number from 0 to ${MAX_SEED}; it is ${seed}.`);
  }
}

/** xoshiro128** seeded through splitmix32: fast, 2^128 - 1 period, and the same on every JS engine. */
class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    let x = seed | 0;
    // splitmix32 spreads a small seed over all 128 state bits and can never yield the all-zero state
    // from four consecutive outputs.
    const next = () => {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) | 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
  }

  /** Uniform in [0, 1). */
  float(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9);
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return (result >>> 0) / 0x1_0000_0000;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

function corrupt(what: string, detail: string): never {
  throw new EngineError('MODEL_CORRUPT', `The model produced invalid numbers (${what}); reload the model.`, detail);
}

export class Sampler {
  private readonly params: Readonly<SamplingParams>;
  private readonly rng: Rng;
  // Scratch sized to the vocabulary on first use and reused, so a 150k vocabulary costs no
  // allocation per token. Float64 so that a strong penalty cannot overflow a float32 logit.
  /** [vocab] logits after the repetition penalty */
  private work = new Float64Array(0);
  /** [vocab] candidate ids, best first once sorted (also the top-k heap) */
  private ids = new Uint32Array(0);
  /** [vocab] unnormalised probability of ids[i] */
  private weights = new Float64Array(0);
  /** Best first, lowest id first among equal logits, so ties resolve the same way as greedy. */
  private readonly bestFirst = (a: number, b: number): number => this.work[b] - this.work[a] || a - b;

  constructor(params: SamplingParams) {
    validateSampling(params);
    this.params = { ...params };
    this.rng = new Rng(params.seed);
  }

  /**
   * Picks the next token id.
   * @param logits [vocab] raw scores after the last token; not modified.
   * @param recent ids the repetition penalty looks at (each distinct id is penalised once).
   */
  sample(logits: Float32Array, recent: readonly number[]): number {
    const vocab = logits.length;
    this.scratch(vocab);
    const work = this.work;
    for (let id = 0; id < vocab; id++) {
      const x = logits[id];
      // -Infinity is a legitimate mask; NaN and +Infinity mean the forward pass overflowed.
      if (Number.isNaN(x) || x === Infinity) corrupt(String(x), `logit ${id} of ${vocab} is ${x}`);
      work[id] = x;
    }

    const { temperature, topK, topP, repetitionPenalty } = this.params;
    if (repetitionPenalty !== 1) {
      for (const id of recent) {
        if (!Number.isInteger(id) || id < 0 || id >= vocab) {
          throw new EngineError(
            'CONFIG_INVALID',
            `Token id ${id} is outside the model's vocabulary of ${vocab}; the tokenizer does not match the model, load them together.`,
          );
        }
        // Computed from the untouched logit, so an id that occurs several times is penalised once.
        const x = logits[id];
        work[id] = x > 0 ? x / repetitionPenalty : x * repetitionPenalty;
      }
    }

    const best = this.argmax();
    if (temperature === 0) return best;
    // Temperature is applied only to the candidates: scaling by 1/T keeps the order, so top-k on
    // the raw logits picks the same set as top-k after the temperature.
    const max = work[best];
    const ids = this.ids;
    let count: number;
    /** Total weight of the whole vocabulary, when pruning left some of it out of the candidates. */
    let mass: number | undefined;
    if (topK > 0 && topK < vocab) {
      count = this.selectTopK(topK);
    } else if (topP < 1) {
      // Sorting all of a 150k vocabulary costs ~50 ms. Tokens whose probability is below
      // (1 - topP) / vocab hold less than 1 - topP together, so the nucleus never reaches them.
      let total = 0;
      for (let id = 0; id < vocab; id++) total += Math.exp((work[id] - max) / temperature);
      mass = total;
      count = this.collectAtLeast(max + temperature * Math.log(((1 - topP) / vocab) * total));
      ids.subarray(0, count).sort(this.bestFirst);
    } else {
      count = this.collectAtLeast(-Infinity);
    }
    return this.draw(count, max, mass);
  }

  /**
   * How many of the best logits sampleTop needs to pick exactly what sample() would pick from the
   * whole row of `vocab`: 1 when greedy, topK under top-k; null when every logit matters (nothing
   * bounds the candidates). Under a repetition penalty the pick must also carry the raw logits of
   * the recent ids (TopLogits.penalized): the penalty moves only those, so the k best of the
   * penalized row are among them and the k best of the rest.
   */
  topNeeded(vocab: number): number | null {
    const { temperature, topK } = this.params;
    this.scratch(vocab);
    if (temperature === 0) return 1;
    if (topK > 0 && topK < vocab) return topK;
    return null;
  }

  /**
   * sample() from only the best logits, for a k that topNeeded asked for: top.ids/top.logits hold
   * the top.count best of the ids not in top.penalized (fewer only when the rest are -Infinity),
   * best first, the lower id first among equal logits; top.penalized holds the distinct recent ids
   * sample() would be given (or none without a penalty) and their raw logits. None is NaN or
   * +Infinity. The penalty is applied here exactly as sample() applies it, and the draw comes from
   * the same PRNG stream.
   */
  sampleTop(top: TopLogits): number {
    const { temperature, topK, repetitionPenalty } = this.params;
    const k = temperature === 0 ? 1 : topK;
    const work = this.work;
    const ids = this.ids;
    let count = Math.min(top.count, k);
    for (let i = 0; i < count; i++) {
      const id = top.ids[i];
      this.checkId(id);
      ids[i] = id;
      work[id] = top.logits[i];
    }
    // Each penalized id goes into the best-first list by insertion (a few dozen at most); an id
    // already there compares equal to itself, so a duplicate is penalised and placed once.
    const penalized = top.penalized;
    for (let i = 0; i < penalized.count; i++) {
      const id = penalized.ids[i];
      this.checkId(id);
      const x = penalized.logits[i];
      if (Number.isNaN(x) || x === Infinity) corrupt(String(x), `logit ${id} of ${work.length} is ${x}`);
      const value = x > 0 ? x / repetitionPenalty : x * repetitionPenalty;
      if (value === -Infinity) continue;
      work[id] = value;
      let at = count;
      while (at > 0 && this.bestFirst(id, ids[at - 1]) < 0) at--;
      if ((at > 0 && ids[at - 1] === id) || at >= k) continue;
      for (let j = Math.min(count, k - 1); j > at; j--) ids[j] = ids[j - 1];
      ids[at] = id;
      count = Math.min(count + 1, k);
    }
    if (count === 0) corrupt('-Infinity everywhere', 'every logit is -Infinity');
    if (temperature === 0) return ids[0];
    return this.draw(count, work[ids[0]], undefined);
  }

  private checkId(id: number): void {
    if (id >= this.work.length) throw new EngineError('CONFIG_INVALID', `Token id ${id} is outside the vocabulary of ${this.work.length} the sampler was set up for.`);
  }

  private scratch(vocab: number): void {
    if (this.work.length !== vocab) {
      this.work = new Float64Array(vocab);
      this.ids = new Uint32Array(vocab);
      this.weights = new Float64Array(vocab);
    }
  }

  /** Draws among ids[0, count), best first, whose logits are in work; max is the best logit. */
  private draw(count: number, max: number, mass: number | undefined): number {
    const { temperature, topP } = this.params;
    const work = this.work;
    const ids = this.ids;
    const weights = this.weights;
    let sum = 0;
    for (let i = 0; i < count; i++) {
      weights[i] = Math.exp((work[ids[i]] - max) / temperature);
      sum += weights[i];
    }

    if (topP < 1) {
      const target = topP * (mass ?? sum);
      let acc = 0;
      for (let i = 0; i < count; i++) {
        acc += weights[i];
        if (acc >= target) {
          count = i + 1;
          sum = acc;
          break;
        }
      }
    }

    // The running sum repeats the additions that produced `sum`, so it reaches `sum` exactly and a
    // draw below it always lands on a candidate with positive weight before the last one is forced.
    const target = this.rng.float() * sum;
    let acc = 0;
    for (let i = 0; i < count - 1; i++) {
      acc += weights[i];
      if (target < acc) return ids[i];
    }
    return ids[count - 1];
  }

  private argmax(): number {
    const work = this.work;
    let best = -1;
    let bestValue = -Infinity;
    for (let id = 0; id < work.length; id++) {
      if (work[id] > bestValue) {
        best = id;
        bestValue = work[id];
      }
    }
    if (best < 0) corrupt('-Infinity everywhere', `all ${work.length} logits are -Infinity`);
    return best;
  }

  /** Puts every id whose logit is finite and at least minLogit into ids, unsorted; returns how many. */
  private collectAtLeast(minLogit: number): number {
    const work = this.work;
    const ids = this.ids;
    let count = 0;
    for (let id = 0; id < work.length; id++) if (work[id] >= minLogit && work[id] !== -Infinity) ids[count++] = id;
    return count;
  }

  /**
   * Puts the k best ids with a finite logit into ids, best first; returns how many (fewer than k
   * when fewer are finite). A size-k min-heap makes this O(vocab log k) instead of a full sort.
   */
  private selectTopK(k: number): number {
    const work = this.work;
    const heap = this.ids;
    // The root holds the worst kept id.
    let size = 0;
    for (let id = 0; id < work.length; id++) {
      const x = work[id];
      if (x === -Infinity) continue;
      if (size < k) {
        let i = size++;
        while (i > 0) {
          const parent = (i - 1) >> 1;
          if (!this.worse(id, heap[parent])) break;
          heap[i] = heap[parent];
          i = parent;
        }
        heap[i] = id;
      } else if (x > work[heap[0]]) {
        // Ids arrive in increasing order, so an equal logit never displaces the root.
        let i = 0;
        for (;;) {
          const left = 2 * i + 1;
          if (left >= size) break;
          const right = left + 1;
          const child = right < size && this.worse(heap[right], heap[left]) ? right : left;
          if (!this.worse(heap[child], id)) break;
          heap[i] = heap[child];
          i = child;
        }
        heap[i] = id;
      }
    }
    heap.subarray(0, size).sort(this.bestFirst);
    return size;
  }

  /** A lower logit, or the same logit and a higher id. */
  private worse(a: number, b: number): boolean {
    const work = this.work;
    return work[a] < work[b] || (work[a] === work[b] && a > b);
  }
}
