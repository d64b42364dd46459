// The models the picker offers, fitted to this GPU before any download: the catalog's variant for
// its features and limits, and the window a memory budget allows, with the settings a model starts
// with. The catalog itself (src/models/catalog.ts) is the one list of models.

import { chooseVariant, defaultCacheDtype, estimateVram, kvElementsPerToken, MODEL_CATALOG, recommendedEntry, windowForBudget, type CatalogEntry, type DeviceCaps, type ModelVariant } from '../../models/catalog.ts';
import { extraSlotsOf, KV_CACHE_DTYPE } from '../../protocol/cache.ts';
import { formatBytes, formatCount } from '../../protocol/format.ts';
import { cacheChoiceOf, STORY_MODEL_CACHE, STORY_MODEL_SETTINGS, type CacheShape, type ChatSettings } from '../settings/settings.ts';

/** What the settings dialog needs of a model. */
export interface ModelDefaults {
  key: string;
  label: string;
  defaults: ChatSettings;
  cache: CacheShape;
}

/** A model fitted to this GPU, ready to download and load. */
export interface HubChoice extends ModelDefaults {
  entry: CatalogEntry;
  variant: ModelVariant;
  /** K and V elements of one token in the cache the engine allocates; its bytes follow the settings' dtype. */
  elementsPerToken: number;
}

/** The KV cache the window is sized from when a model is first picked; the settings change it. */
export const KV_BUDGET_BYTES = 256 * 2 ** 20;
const CHAT_MODEL_CACHE: CacheShape = STORY_MODEL_CACHE;
const CHAT_MODEL_SETTINGS: Omit<ChatSettings, 'nSinks' | 'windowSize'> = {
  windowMode: 'tokens',
  memoryBudgetMiB: KV_BUDGET_BYTES / 2 ** 20,
  cacheDtype: KV_CACHE_DTYPE,
  temperature: 0.7,
  topP: 0.9,
  topK: 40,
  repetitionPenalty: 1.1,
  maxTokens: 512,
};

/**
 * The variant this GPU can run and the settings the model starts with: the window the memory
 * budget allows (the story models keep their short default window). Throws the catalog's
 * EngineError (DEVICE_LIMIT) when no variant fits, before anything is downloaded.
 */
export function fitModel(entry: CatalogEntry, caps: DeviceCaps): HubChoice {
  const variant = chooseVariant(entry, caps);
  const cache = entry.format === 'llama2c' ? STORY_MODEL_CACHE : CHAT_MODEL_CACHE;
  const budgetWindow = Math.min(entry.defaultWindow, windowForBudget(entry, KV_BUDGET_BYTES, entry.defaultSinks, { extraSlots: extraSlotsOf(cache), cacheDtype: defaultCacheDtype(entry) }));
  const defaults: ChatSettings =
    entry.format === 'llama2c'
      ? { ...STORY_MODEL_SETTINGS, nSinks: entry.defaultSinks, windowSize: Math.min(STORY_MODEL_SETTINGS.windowSize, budgetWindow) }
      : { ...CHAT_MODEL_SETTINGS, nSinks: entry.defaultSinks, windowSize: budgetWindow };
  return { key: `${entry.id}:${variant.dtype}`, label: entry.label, entry, variant, defaults, cache, elementsPerToken: kvElementsPerToken(entry) };
}

/** The window these settings give the model, and the bytes of its whole cache (sinks, window and ring headroom). */
export function windowOf(choice: HubChoice, settings: ChatSettings): { window: number; cacheBytes: number } {
  const cache = cacheChoiceOf(settings, choice.cache, choice.elementsPerToken);
  const { cache: cacheBytes } = estimateVram(choice.entry, choice.variant, cache.windowSize, { sinks: cache.nSinks, extraSlots: extraSlotsOf(choice.cache), cacheDtype: cache.dtype });
  return { window: cache.windowSize, cacheBytes };
}

/** "window 2,044 tokens = 238 MiB of KV cache" */
export const windowLine = ({ window, cacheBytes }: { window: number; cacheBytes: number }): string =>
  `window ${formatCount(window)} tokens = ${formatBytes(cacheBytes)} of KV cache`;

/** What the GPU check decided, in words: which weights, and why. */
export function variantLine(choice: HubChoice, caps: DeviceCaps): string {
  const { variant, entry } = choice;
  const why = variant.widened
    ? ' widened to f32 at load (no shader-f16 on this GPU)'
    : entry.variants.length > 1 && !caps.hasShaderF16 && entry.variants.some((v) => v.dtype === 'q4f16' || v.dtype === 'fp16') ? ' (no shader-f16 on this GPU)' : '';
  return `${variant.dtype} weights${why}, ${formatBytes(variant.downloadBytes)} to download`;
}

export const CATALOG_ENTRIES: readonly CatalogEntry[] = MODEL_CATALOG;

/** The model the settings dialog describes before any model was loaded. */
export const STARTER_MODEL: ModelDefaults = (() => {
  const entry = MODEL_CATALOG.find((e) => e.id === 'stories260k')!;
  return fitModel(entry, { hasShaderF16: false, maxBufferSize: Infinity, maxStorageBufferBindingSize: Infinity });
})();

/**
 * The GPU memory the recommendation may plan for. Browsers do not tell a page its GPU's memory;
 * navigator.deviceMemory (Chrome: RAM in GiB, rounded, at most 8) is the nearest hint, and a
 * quarter of it leaves room for the browser, the page and other tabs. 4 GiB is assumed where it is
 * missing.
 */
export function vramBudgetBytes(deviceMemoryGiB: number | undefined = (navigator as { deviceMemory?: number }).deviceMemory): number {
  const gib = deviceMemoryGiB && deviceMemoryGiB > 0 ? deviceMemoryGiB : 4;
  return Math.max(0.5, gib / 4) * 2 ** 30;
}

/** The chat model to suggest for this GPU, fitted, or null when none of the catalog's fits. */
export function recommendedChoice(caps: DeviceCaps, budgetBytes = vramBudgetBytes()): HubChoice | null {
  const found = recommendedEntry(caps, budgetBytes, (entry) => {
    const choice = fitModel(entry, caps);
    return { window: choice.defaults.windowSize, shape: { sinks: choice.defaults.nSinks, extraSlots: extraSlotsOf(choice.cache), cacheDtype: choice.defaults.cacheDtype } };
  });
  return found && fitModel(found.entry, caps);
}
