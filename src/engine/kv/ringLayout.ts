// Where each token of the stream lives in the KV cache and which keys each query sees
// (docs/architecture.md sections 1 and 2). Pure bookkeeping on the CPU: the GPU buffers live in kvCache.ts, and the
// shaders derive the same slots from the few numbers in ChunkParams.
//
// Slots 0 .. nSinks-1 hold tokens 0 .. nSinks-1 forever. Token t >= nSinks lives in ring slot
// nSinks + (t - nSinks) mod ringSize, so evicting the oldest window entry is just writing over it.
// The ring is windowSize + maxChunk - 1 long (plus optional rollback slots): while a chunk of
// n <= maxChunk tokens is written, the first query of the chunk can still see its whole window.

import { extraSlotsOf } from '../../protocol/cache.ts';
import { EngineError } from '../../protocol/errors.ts';
import type { AttentionMode, CacheChoice, RingPicture } from '../../protocol/messages.ts';

/** The cache's layout without its dtype: which token lives in which slot does not depend on what a slot holds. */
export type RingConfig = Omit<CacheChoice, 'dtype'>;

/** The tokens appended by one call, for every layer alike. */
export interface ChunkPlan {
  /** Stream index of the first new token. */
  t0: number;
  nNew: number;
}

export interface RingState {
  nTokens: number;
}

export class RingLayout {
  readonly mode: AttentionMode;
  readonly nSinks: number;
  readonly windowSize: number;
  readonly maxChunk: number;
  readonly ringSize: number;
  /** Total slots per layer: sinks, then the ring. */
  readonly nSlots: number;
  /** Length of the stream so far: the next token appended gets this stream index. */
  nTokens = 0;

  constructor(config: RingConfig) {
    validateCacheConfig(config);
    this.mode = config.mode;
    this.nSinks = config.mode === 'streaming' ? config.nSinks : 0;
    this.windowSize = config.windowSize;
    this.maxChunk = config.maxChunk;
    // Dense never evicts, so its ring is exactly its capacity.
    this.ringSize = config.mode === 'dense' ? config.windowSize : config.windowSize + extraSlotsOf(config);
    this.nSlots = this.nSinks + this.ringSize;
  }

  /** Cache slot that holds (or will hold) stream token t. */
  slotOf(t: number): number {
    return t < this.nSinks ? t : this.nSinks + ((t - this.nSinks) % this.ringSize);
  }

  /** Stream index of the token now in a slot, or -1 if the slot was never written. After a
   *  truncation a slot outside the kept window may still hold a discarded token; this names the
   *  token before the cut that it held, which no query sees either way. */
  streamIndexOfSlot(slot: number): number {
    if (slot < this.nSinks) return slot < this.nTokens ? slot : -1;
    const ringPos = slot - this.nSinks;
    const written = this.nTokens - this.nSinks; // tokens that went to the ring
    if (ringPos >= written) return -1;
    // The newest token in this slot: the largest t < nTokens with (t - nSinks) mod ringSize == ringPos.
    const lastLap = Math.floor((written - 1 - ringPos) / this.ringSize);
    return this.nSinks + ringPos + lastLap * this.ringSize;
  }

  /** Slots written so far; they always form the prefix 0 .. occupiedSlots-1. */
  get occupiedSlots(): number {
    return Math.min(this.nTokens, this.nSlots);
  }

  /** Tokens that the next token can no longer see. */
  get evictedCount(): number {
    if (this.mode === 'dense') return 0;
    return Math.max(0, this.nTokens - this.nSinks - this.windowSize + 1);
  }

  /** The ring for the next token (t = nTokens), as the memory panel draws it. */
  get picture(): RingPicture {
    const written = Math.max(0, this.nTokens - this.nSinks);
    return {
      filled: Math.min(written, this.ringSize),
      turns: Math.floor(written / this.ringSize),
      next: written % this.ringSize,
      windowStart: this.mode === 'dense' ? 0 : this.windowStart(this.nTokens),
    };
  }

  /** First stream index of the window part of V(t); the window part is empty when it exceeds t. */
  windowStart(t: number): number {
    return Math.max(this.nSinks, t - this.windowSize + 1);
  }

  /** |V(t)|: sinks seen by t plus its window. */
  visibleCount(t: number): number {
    const sinks = Math.min(this.nSinks, t + 1);
    return sinks + Math.max(0, t - this.windowStart(t) + 1);
  }

  /** RoPE position of query t: its rank in V(t). */
  queryPosition(t: number): number {
    return this.visibleCount(t) - 1;
  }

  /** Validates an append of n tokens before any GPU work. */
  planChunk(nNew: number): ChunkPlan {
    if (!Number.isInteger(nNew) || nNew < 1) {
      throw new EngineError('CONFIG_INVALID', `A chunk must hold at least one token, got ${nNew}.`);
    }
    if (nNew > this.maxChunk) {
      throw new EngineError(
        'CHUNK_TOO_LARGE',
        `A chunk of ${nNew} tokens is larger than this cache can give every query its window ` +
          `(at most ${this.maxChunk}); split the prefill into smaller chunks.`,
      );
    }
    if (this.mode === 'dense' && this.nTokens + nNew > this.windowSize) {
      throw new EngineError(
        'CACHE_FULL',
        `Dense attention holds at most ${this.windowSize} tokens and the stream would reach ` +
          `${this.nTokens + nNew}; use streaming mode or a larger cache.`,
      );
    }
    if (this.nTokens + nNew > 0xffff_ffff) {
      throw new EngineError('CACHE_FULL', 'The stream has reached 2^32 tokens; start a new conversation.');
    }
    return { t0: this.nTokens, nNew };
  }

  commit(plan: ChunkPlan): void {
    if (plan.t0 !== this.nTokens) {
      throw new EngineError('CONFIG_INVALID', `Chunk planned at token ${plan.t0} but the cache is at ${this.nTokens}.`);
    }
    this.nTokens += plan.nNew;
  }

  /** Whether dropping every token from stream index `length` on leaves a cache that still holds
   *  everything the next token (stream index `length`) must see. */
  canTruncateTo(length: number): boolean {
    if (!Number.isInteger(length) || length < 0 || length > this.nTokens) return false;
    const oldestNeeded = this.windowStart(length);
    if (oldestNeeded >= length) return true;
    // Token j still sits in its slot unless token j + ringSize was written after it.
    return oldestNeeded + this.ringSize >= this.nTokens;
  }

  truncate(length: number): void {
    if (!this.canTruncateTo(length)) {
      throw new EngineError(
        'CACHE_TRUNCATE_IMPOSSIBLE',
        `Cannot roll the cache back to token ${length}: tokens it needs were already evicted. ` +
          'Rebuild the cache from the transcript instead.',
      );
    }
    this.nTokens = length;
  }

  reset(): void {
    this.nTokens = 0;
  }

  restore(state: RingState): void {
    if (!Number.isInteger(state.nTokens) || state.nTokens < 0) {
      throw new EngineError('SNAPSHOT_MISMATCH', `A cache snapshot holds an invalid token count (${state.nTokens}).`);
    }
    this.nTokens = state.nTokens;
  }
}

export function validateCacheConfig(config: RingConfig): void {
  const { mode, nSinks, windowSize, maxChunk } = config;
  const bad = (why: string): never => {
    throw new EngineError('CONFIG_INVALID', `Invalid cache settings: ${why}`);
  };
  if (mode !== 'streaming' && mode !== 'window' && mode !== 'dense') bad(`unknown mode "${String(mode)}".`);
  if (!Number.isInteger(windowSize) || windowSize < 1) bad(`the window must be at least 1 token, got ${windowSize}.`);
  if (!Number.isInteger(nSinks) || nSinks < 0) bad(`the sink count must be 0 or more, got ${nSinks}.`);
  if (!Number.isInteger(maxChunk) || maxChunk < 1) bad(`the chunk size must be at least 1, got ${maxChunk}.`);
  const rollback = config.rollbackSlots ?? 0;
  if (!Number.isInteger(rollback) || rollback < 0) bad(`the rollback slots must be a whole number of 0 or more, got ${rollback}.`);
  if (mode === 'dense' && maxChunk > windowSize) bad(`a chunk of ${maxChunk} cannot fit a dense cache of ${windowSize}.`);
  if (mode === 'streaming' && nSinks > windowSize) bad(`${nSinks} sinks are more than the window of ${windowSize}; use fewer sinks or a larger window.`);
}
