// Facts about the KV cache that the UI and the engine both state: the dtype the app keeps it in,
// the ring's slots past the window, how large a window a memory budget holds, and what makes two
// cache settings the same cache. Each is written here once, so what the picker and the settings
// promise is what the engine allocates.

import type { CacheChoice } from './messages.ts';

/** The dtype of the cache ChatSession allocates, and so of every cache size the app quotes. */
export const KV_CACHE_DTYPE = 'f32';

/** Ring slots past sinks and window: room for a prefill chunk beside the whole window
 *  (maxChunk - 1), and the rollback slots. */
export const extraSlotsOf = (cache: Pick<CacheChoice, 'maxChunk' | 'rollbackSlots'>): number => cache.maxChunk - 1 + (cache.rollbackSlots ?? 0);

/** The window that `budgetBytes` of cache holds beside its sinks and extra slots; below 1 when
 *  the budget holds none, which each caller answers its own way. */
export const windowInBudget = (budgetBytes: number, bytesPerToken: number, nSinks: number, extraSlots: number): number =>
  Math.floor(budgetBytes / bytesPerToken) - nSinks - extraSlots;

/** Two cache settings with the same identity lay out the same cache: a snapshot of one restores into the other. */
export const cacheIdentity = (cache: CacheChoice): string =>
  `${cache.mode}:${cache.nSinks}:${cache.windowSize}:${cache.maxChunk}:${cache.rollbackSlots ?? 0}`;
