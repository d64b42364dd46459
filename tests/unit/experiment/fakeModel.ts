// A model for the experiment's unit tests that copies perfectly from what its cache lets it see:
// after a context it has seen before inside its visible set V(t), it predicts the token that came
// next there (an induction head), and otherwise nothing in particular. Its cache keeps the real
// ring bookkeeping (RingLayout), so a chunk or a stream the layout cannot take fails as on the GPU.

import type { ExperimentModel } from '../../../src/engine/eval/experiment.ts';
import type { ScoringModel } from '../../../src/engine/eval/score.ts';
import type { CacheLayout } from '../../../src/protocol/messages.ts';
import { IdCache } from '../fakeStreamCache.ts';

export const VOCAB = 128;
/** Tokens of context the copy matches. */
const MATCH = 6;

/** Characters as ids, as a byte tokenizer would; BOS is 1. */
export const encode = (text: string): number[] => [...text].map((c) => c.charCodeAt(0) % VOCAB);

/** Logits after the last id of `seen`: 12 on the id that followed its last MATCH ids earlier in `seen`. */
function copyLogits(seen: readonly number[]): Float32Array {
  const logits = new Float32Array(VOCAB);
  const n = seen.length;
  if (n <= MATCH) return logits;
  for (let at = n - 2; at >= MATCH - 1; at--) {
    let same = true;
    for (let k = 0; k < MATCH && same; k++) same = seen[at - k] === seen[n - 1 - k];
    if (same) {
      logits[seen[at + 1]] = 12;
      return logits;
    }
  }
  return logits;
}

export class CopyingModel implements ExperimentModel {
  readonly vocabSize = VOCAB;
  readonly tokenizer = { encode };
  /** Every cache an arm asked for, in order. */
  readonly caches: CacheLayout[] = [];
  /** Ids fed per call. */
  readonly feeds: number[] = [];

  /** `afterFeed`: told after every feed which cache (by order of asking) it went to, and how many feeds that cache had. */
  constructor(
    readonly maxChunk: number,
    private readonly afterFeed: (cache: number, feeds: number) => void = () => {},
  ) {}

  async withCache<T>(choice: CacheLayout, work: (model: ScoringModel) => Promise<T>): Promise<T> {
    this.caches.push(choice);
    const index = this.caches.length - 1;
    let fed = 0;
    const cache = new IdCache(choice);
    const model: ScoringModel = {
      vocabSize: VOCAB,
      cache,
      feed: async (ids, options = {}) => {
        this.feeds.push(ids.length);
        const first = cache.length;
        cache.append(ids);
        const rows = ids.map((_, i) => copyLogits(cache.visible(first + i)));
        this.afterFeed(index, ++fed);
        const out = options.all ? rows : rows.slice(-1);
        const logits = new Float32Array(out.length * VOCAB);
        out.forEach((row, i) => logits.set(row, i * VOCAB));
        return logits;
      },
    };
    return work(model);
  }
}
