// The cache facts the picker, the settings and the engine each state, checked against each other:
// what the catalog says a token and a window cost is what KvCache allocates for the same settings,
// in either dtype, the window a budget allows is the same in the picker and the settings, the ring
// has the slots every budget reckons with, and the identity of a cache setting names all of it.

import { describe, expect, it, vi } from 'vitest';
import { KvCache } from '../../src/engine/kv/kvCache.ts';
import { RingLayout } from '../../src/engine/kv/ringLayout.ts';
import { kvBytesPerToken, MODEL_CATALOG, windowForBudget, type CatalogEntry, type DeviceCaps } from '../../src/models/catalog.ts';
import { fitModel, windowOf } from '../../src/features/models/hubModels.ts';
import { cacheChoiceOf, effectiveWindow, sameCache, type ChatSettings } from '../../src/features/settings/settings.ts';
import { cacheIdentity, extraSlotsOf, KV_CACHE_DTYPE, STORY_KV_CACHE_DTYPE } from '../../src/protocol/cache.ts';
import type { CacheChoice, CacheDtype } from '../../src/protocol/messages.ts';
import { snapshotSettingsKey } from '../../src/storage/snapshots.ts';

vi.stubGlobal('GPUBufferUsage', { MAP_READ: 1, COPY_SRC: 4, COPY_DST: 8, STORAGE: 128 });
const standInDevice = {
  limits: { maxBufferSize: 2 ** 31, maxStorageBufferBindingSize: 2 ** 31 },
  createBuffer: ({ size }: GPUBufferDescriptor) => ({ size, destroy() {} }),
} as unknown as GPUDevice;
const DESKTOP: DeviceCaps = { hasShaderF16: true, maxBufferSize: 2 ** 31, maxStorageBufferBindingSize: 2 ** 31 };

/** The cache the engine allocates for an entry: heads as the GQA export holds them (padded to 16), in the dtype the choice names. */
function allocated(entry: CatalogEntry, cache: CacheChoice): KvCache {
  const headDim = Math.ceil(entry.headDim / 16) * 16;
  return KvCache.create(standInDevice, { ...cache, nLayers: entry.nLayers, nKvHeads: entry.nKvHeads, headDim });
}

const DTYPES: CacheDtype[] = ['f16', 'f32'];

describe('the catalog against the cache the engine allocates', () => {
  for (const entry of MODEL_CATALOG) {
    for (const dtype of DTYPES) {
      it(`${entry.label}, ${dtype}: KV bytes per token are what KvCache allocates per token`, () => {
        const cache = allocated(entry, { mode: 'streaming', nSinks: 4, windowSize: 64, maxChunk: 32, rollbackSlots: 8, dtype });
        expect(kvBytesPerToken(entry, dtype)).toBe(2 * entry.nLayers * cache.bytesPerSlot);
        expect(kvBytesPerToken(entry, dtype)).toBe(cache.totalBytes / cache.layout.nSlots);
        expect(cache.info().bytesPerToken).toBe(kvBytesPerToken(entry, dtype));
      });

      it(`${entry.label}, ${dtype}: the picker's "window = bytes of KV cache" is what KvCache allocates for its settings`, () => {
        const choice = fitModel(entry, DESKTOP);
        const settings: ChatSettings = { ...choice.defaults, cacheDtype: dtype };
        const { window, cacheBytes } = windowOf(choice, settings);
        const cache = allocated(entry, cacheChoiceOf(settings, choice.cache, choice.elementsPerToken));
        expect(cache.config.dtype).toBe(dtype);
        expect(cache.layout.windowSize).toBe(window);
        expect(cache.totalBytes).toBe(cacheBytes);
      });
    }

    const starts = entry.format === 'llama2c' ? 'f32, as every story model' : 'f16, as every chat model';
    it(`${entry.label}: starts in ${starts}, and its token takes half the bytes in f16`, () => {
      const dtype = entry.format === 'llama2c' ? STORY_KV_CACHE_DTYPE : KV_CACHE_DTYPE;
      expect([KV_CACHE_DTYPE, STORY_KV_CACHE_DTYPE]).toEqual(['f16', 'f32']);
      expect(fitModel(entry, DESKTOP).defaults.cacheDtype).toBe(dtype);
      expect(kvBytesPerToken(entry)).toBe(kvBytesPerToken(entry, dtype));
      expect(kvBytesPerToken(entry, 'f32')).toBe(2 * kvBytesPerToken(entry, 'f16'));
    });
  }
});

describe('the window a memory budget allows', () => {
  const budgetSettings = (mib: number, cacheDtype: CacheDtype): ChatSettings => ({
    nSinks: 4, windowMode: 'budget', windowSize: 1, memoryBudgetMiB: mib, cacheDtype, temperature: 0, topP: 1, topK: 0, repetitionPenalty: 1, maxTokens: 1,
  });

  it('is the same in the catalog (the picker) and in the settings (budget mode), in either dtype', () => {
    const entry = MODEL_CATALOG.find((e) => e.id === 'qwen3-0.6b')!;
    const shape = { maxChunk: 64, rollbackSlots: 64 };
    const choice = fitModel(entry, DESKTOP);
    for (const dtype of DTYPES) {
      for (const mib of [64, 100, 256]) {
        expect(effectiveWindow(budgetSettings(mib, dtype), shape, choice.elementsPerToken), `${mib} MiB ${dtype}`).toBe(
          windowForBudget(entry, mib * 2 ** 20, 4, { extraSlots: extraSlotsOf(shape), cacheDtype: dtype }),
        );
      }
    }
  });

  it('fills the budget with the ring the engine lays out, one more token of window overflowing it', () => {
    const elementsPerToken = 500;
    for (const [dtype, bytesPerToken] of [['f16', 1000], ['f32', 2000]] as const) {
      const cache: CacheChoice = { mode: 'streaming', nSinks: 4, windowSize: 0, maxChunk: 32, rollbackSlots: 16, dtype };
      const windowSize = effectiveWindow(budgetSettings(1, dtype), { maxChunk: 32, rollbackSlots: 16 }, elementsPerToken);
      const slots = new RingLayout({ ...cache, windowSize }).nSlots;
      expect(slots).toBe(4 + windowSize + extraSlotsOf(cache));
      expect(slots * bytesPerToken).toBeLessThanOrEqual(2 ** 20);
      expect((slots + 1) * bytesPerToken).toBeGreaterThan(2 ** 20);
    }
  });
});

describe('the identity of a cache setting', () => {
  const base: CacheChoice = { mode: 'streaming', nSinks: 4, windowSize: 256, maxChunk: 64, rollbackSlots: 64, dtype: 'f16' };
  const changed: Record<keyof CacheChoice, CacheChoice> = {
    mode: { ...base, mode: 'window' },
    nSinks: { ...base, nSinks: 5 },
    windowSize: { ...base, windowSize: 257 },
    maxChunk: { ...base, maxChunk: 32 },
    rollbackSlots: { ...base, rollbackSlots: 0 },
    dtype: { ...base, dtype: 'f32' },
  };

  it('changes with every field of the setting, for the engine, the snapshots and the settings alike', () => {
    for (const [field, other] of Object.entries(changed)) {
      expect(cacheIdentity(other), field).not.toBe(cacheIdentity(base));
      expect(sameCache(other, base), field).toBe(false);
      expect(snapshotSettingsKey('m', other), field).not.toBe(snapshotSettingsKey('m', base));
    }
    expect(sameCache({ ...base }, base)).toBe(true);
    expect(snapshotSettingsKey('m', base)).toBe(`m|${cacheIdentity(base)}`);
  });

  it('takes absent rollback slots as none, as the ring does', () => {
    const { rollbackSlots: _, ...none } = changed.rollbackSlots;
    expect(cacheIdentity(none)).toBe(cacheIdentity(changed.rollbackSlots));
    expect(new RingLayout(none).nSlots).toBe(new RingLayout(changed.rollbackSlots).nSlots);
  });
});
