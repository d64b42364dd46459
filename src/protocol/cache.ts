// Facts about the KV cache that the UI and the engine both state: the dtype the app keeps it in by
// default and the bytes of each float, the ring's slots past the window, how large a window a
// memory budget holds, and what makes two cache settings the same cache. Each is written here once, so what the picker and the settings
// promise is what the engine allocates.

import type { CacheChoice, CacheDtype, CacheState } from './messages.ts';

/** The dtype a chat model's cache starts in (the settings offer the other): f16 holds twice the
 *  tokens in the same memory, as llama.cpp and WebLLM keep theirs, and kept per-token NLL within
 *  0.01 nats of f32 on the builder exports (eval/results/cache-dtype.md). */
export const KV_CACHE_DTYPE: CacheDtype = 'f16';

/** The llama2.c story models keep f32: f16 moved stories260K's per-token NLL by more than 0.01 nats
 *  (eval/results/cache-dtype.md), and their window is bounded by the context they were trained on,
 *  not by memory, so f16 would save nothing worth it. */
export const STORY_KV_CACHE_DTYPE: CacheDtype = 'f32';

/** Bytes of an f32 or f16 value: a cached K or V element (f16 packed two per u32), a kernel's input. */
export const FLOAT_BYTES: Readonly<Record<CacheDtype, number>> = { f32: 4, f16: 2 };

/** Ring slots past sinks and window: room for a prefill chunk beside the whole window
 *  (maxChunk - 1), and the rollback slots. */
export const extraSlotsOf = (cache: Pick<CacheChoice, 'maxChunk' | 'rollbackSlots'>): number => cache.maxChunk - 1 + (cache.rollbackSlots ?? 0);

/** The window that `budgetBytes` of cache holds beside its sinks and extra slots; below 1 when
 *  the budget holds none, which each caller answers its own way. */
export const windowInBudget = (budgetBytes: number, bytesPerToken: number, nSinks: number, extraSlots: number): number =>
  Math.floor(budgetBytes / bytesPerToken) - nSinks - extraSlots;

/** Two cache settings with the same identity lay out the same cache: a snapshot of one restores into the other. */
export const cacheIdentity = (cache: CacheChoice): string =>
  `${cache.mode}:${cache.nSinks}:${cache.windowSize}:${cache.maxChunk}:${cache.rollbackSlots ?? 0}:${cache.dtype}`;

/** The same cache with nothing in it, as RingLayout.picture describes an empty stream: what a
 *  settings change leaves until the next reply reads the conversation again. */
export const emptied = (cache: CacheState): CacheState => ({
  ...cache,
  conversationId: null,
  nTokens: 0,
  evicted: 0,
  spans: [],
  ring: { filled: 0, turns: 0, next: 0, windowStart: cache.nSinks },
});
