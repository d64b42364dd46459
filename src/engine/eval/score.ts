// Scoring a token stream: the negative log-likelihood of every id after the first under the
// engine's logits, the one scorer behind the app's Experiment view and `npm run harness` (so the
// same ids scored both ways give the same per-token NLL). The cache the model feeds decides the
// attention (streaming, window, dense); recomputation is the one mode scored here, since it feeds
// each token's visible set afresh (docs/architecture.md section 1).

import { EngineError } from '../../protocol/errors.ts';
import type { StreamCache } from '../kv/kvCache.ts';

/** What the scorer feeds: ModelRunner, or the runner over another of its caches (withCache). */
export interface ScoringModel {
  readonly vocabSize: number;
  readonly cache: StreamCache;
  /** Logits after the last id, or with `all` after every id. */
  feed(ids: readonly number[], options?: { all?: boolean }): Promise<Float32Array>;
}

export interface ScoreOptions {
  /** Ids per feed; each piece's logits score the ids after it. */
  chunk: number;
  /** The first `prefill` ids go in as one piece before the chunks, as a chat prefills before it
   *  decodes. With recomputation at most sinks + window: one pass scores them all. */
  prefill?: number;
  /** Sliding window with recomputation: for every id, the cache is reset and V(t) (the first
   *  `sinks` ids and the last `window` up to it) fed afresh at positions 0 .. |V(t)| - 1. The
   *  cache must be dense and hold sinks + window. */
  recompute?: { sinks: number; window: number };
  /** Checked between feeds: once aborted, scoring ends with what was measured (complete: false). */
  signal?: AbortSignal;
  /** After every feed: the NLL of the ids it scored, and the ms each took (the feed's time shared). */
  onScored?(nll: readonly number[], msPerToken: readonly number[]): void;
}

export interface Scored {
  /** NLL of ids[1..], one per id after the first, in nats; shorter when stopped. */
  nll: number[];
  msPerToken: number[];
  /** False when the signal stopped it before the last id. */
  complete: boolean;
}

/** Negative log-likelihood of `target` under the row of logits at `offset`, in float64. */
export function negLogLikelihood(logits: ArrayLike<number>, offset: number, vocab: number, target: number): number {
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) max = Math.max(max, logits[offset + i]);
  let sum = 0;
  for (let i = 0; i < vocab; i++) sum += Math.exp(logits[offset + i] - max);
  return Math.log(sum) + max - logits[offset + target];
}

/** Scores `ids` from an empty stream: the model's cache is reset first. */
export async function scoreIds(model: ScoringModel, ids: readonly number[], options: ScoreOptions): Promise<Scored> {
  if (!Number.isInteger(options.chunk) || options.chunk < 1) throw new EngineError('CONFIG_INVALID', `Scoring needs a chunk of at least one token, got ${options.chunk}.`);
  const vocab = model.vocabSize;
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new EngineError('CONFIG_INVALID', `Token id ${id} is outside the model's vocabulary of ${vocab}; score ids of this model's tokenizer.`);
  }
  const nll: number[] = [];
  const msPerToken: number[] = [];
  const prefill = Math.min(options.prefill ?? 0, ids.length - 1);
  const stopped = () => options.signal?.aborted === true;
  /** Scores `rows` ids after `from` with one feed's logits, which took `ms` in all. */
  const scoreRows = (logits: Float32Array, from: number, rows: number, ms: number) => {
    const start = nll.length;
    for (let i = 0; i < rows; i++) {
      nll.push(negLogLikelihood(logits, i * vocab, vocab, ids[from + i + 1]));
      msPerToken.push(ms / rows);
    }
    options.onScored?.(nll.slice(start), msPerToken.slice(start));
  };
  const feedAll = async (piece: readonly number[], from: number) => {
    const start = performance.now();
    const logits = await model.feed(piece, { all: true });
    scoreRows(logits, from, piece.length, performance.now() - start);
  };
  model.cache.reset();
  if (options.recompute) {
    const { sinks, window } = options.recompute;
    if (prefill > sinks + window) throw new EngineError('CONFIG_INVALID', `A recompute prefill of ${prefill} tokens is longer than the ${sinks + window} a token may see.`);
    if (prefill > 0) await feedAll(ids.slice(0, prefill), 0);
    for (let t = prefill; t + 1 < ids.length; t++) {
      if (stopped()) return { nll, msPerToken, complete: false };
      const visible = [...ids.slice(0, Math.min(sinks, t + 1)), ...ids.slice(Math.max(sinks, t - window + 1), t + 1)];
      const start = performance.now();
      model.cache.reset();
      const logits = await model.feed(visible);
      scoreRows(logits, t, 1, performance.now() - start);
    }
  } else {
    for (let done = 0; done < ids.length - 1; ) {
      if (stopped()) return { nll, msPerToken, complete: false };
      const piece = ids.slice(done, Math.min(done + (done === 0 && prefill > 0 ? prefill : options.chunk), ids.length - 1));
      await feedAll(piece, done);
      done += piece.length;
    }
  }
  return { nll, msPerToken, complete: true };
}
