// Chat settings: their defaults per model, the validation that refuses bad values with a
// sentence per field, and the step from settings to the engine's cache and sampling choices.

import { FLOAT_BYTES, cacheIdentity, extraSlotsOf, STORY_KV_CACHE_DTYPE, windowInBudget } from '../../protocol/cache.ts';
import type { CacheChoice, CacheDtype, SamplingParams } from '../../protocol/messages.ts';
import { formatCount } from '../../protocol/format.ts';

export interface ChatSettings {
  nSinks: number;
  /** 'budget' sizes the window from `memoryBudgetMiB` and the model's bytes per token. */
  windowMode: 'tokens' | 'budget';
  windowSize: number;
  memoryBudgetMiB: number;
  /** What the cache keeps K and V in: 16-bit holds twice the tokens in the same memory, 32-bit is exact. */
  cacheDtype: CacheDtype;
  temperature: number;
  topP: number;
  topK: number;
  repetitionPenalty: number;
  maxTokens: number;
}

/** How a model family wants its cache laid out; not user settings. */
export type CacheShape = Required<Pick<CacheChoice, 'maxChunk' | 'rollbackSlots'>>;

export type SettingsErrors = Partial<Record<keyof ChatSettings, string>>;

/** The tiny llama2.c story models were trained on 256- to 1024-token contexts. */
export const STORY_MODEL_SETTINGS: ChatSettings = {
  nSinks: 4,
  windowMode: 'tokens',
  windowSize: 256,
  memoryBudgetMiB: 16,
  cacheDtype: STORY_KV_CACHE_DTYPE,
  temperature: 0.8,
  topP: 0.95,
  topK: 40,
  repetitionPenalty: 1.1,
  maxTokens: 200,
};

export const STORY_MODEL_CACHE: CacheShape = { maxChunk: 64, rollbackSlots: 64 };

const isWhole = (n: number) => Number.isInteger(n);

export function validateSettings(s: ChatSettings): SettingsErrors {
  const errors: SettingsErrors = {};
  if (!isWhole(s.windowSize) || s.windowSize < 1) errors.windowSize = 'The window must be a whole number of at least 1 token.';
  if (!isWhole(s.nSinks) || s.nSinks < 0) errors.nSinks = 'Sinks must be a whole number of 0 or more.';
  else if (s.windowMode === 'tokens' && !errors.windowSize && s.nSinks >= s.windowSize) errors.nSinks = `Sinks must be fewer than the window (${s.windowSize} tokens).`;
  if (s.windowMode === 'budget' && !(Number.isFinite(s.memoryBudgetMiB) && s.memoryBudgetMiB > 0)) errors.memoryBudgetMiB = 'The memory budget must be a number of MiB above 0.';
  if (s.cacheDtype !== 'f16' && s.cacheDtype !== 'f32') errors.cacheDtype = 'Memory precision must be 16-bit or 32-bit.';
  if (!Number.isFinite(s.temperature) || s.temperature < 0) errors.temperature = 'Temperature must be 0 or more (0 always picks the most likely token).';
  if (!Number.isFinite(s.topP) || s.topP <= 0 || s.topP > 1) errors.topP = 'Top-p must be above 0 and at most 1 (1 turns it off).';
  if (!isWhole(s.topK) || s.topK < 0) errors.topK = 'Top-k must be a whole number of 0 or more (0 turns it off).';
  if (!Number.isFinite(s.repetitionPenalty) || s.repetitionPenalty <= 0) errors.repetitionPenalty = 'The repetition penalty must be above 0 (1 turns it off).';
  if (!isWhole(s.maxTokens) || s.maxTokens < 1) errors.maxTokens = 'Max tokens per reply must be a whole number of at least 1.';
  return errors;
}

/** Cache bytes of one token in these settings' precision, from the model's K and V elements per
 *  token (every layer; the same in either precision); undefined while that is unknown. */
export const bytesPerTokenOf = (s: Pick<ChatSettings, 'cacheDtype'>, elementsPerToken: number | undefined): number | undefined =>
  elementsPerToken && elementsPerToken * FLOAT_BYTES[s.cacheDtype];

/** The window in tokens; in budget mode it needs the model's K and V elements per token (known
 *  once loaded), and a budget too small for any window still gets one token. */
export function effectiveWindow(s: ChatSettings, shape: CacheShape, elementsPerToken: number | undefined): number {
  const bytesPerToken = bytesPerTokenOf(s, elementsPerToken);
  if (s.windowMode === 'tokens' || !bytesPerToken) return s.windowSize;
  return Math.max(1, windowInBudget(s.memoryBudgetMiB * 2 ** 20, bytesPerToken, s.nSinks, extraSlotsOf(shape)));
}

/** What bounds the window of a loaded model: the GPU's largest buffer and the context it was trained on. */
export interface CacheLimits {
  label: string;
  /** K (or V) elements one token takes in one layer's buffer: the per-token elements over 2 x layers. */
  elementsPerSlot: number;
  /** The most bytes one GPU buffer may hold and bind: min(maxBufferSize, maxStorageBufferBindingSize). */
  bufferBytes: number;
  /** Positions the model was trained on, where known. */
  trainedContext: number | null;
}

/** The largest window these settings' sinks and precision allow, and which limit sets it. */
export function largestWindow(s: Pick<ChatSettings, 'nSinks' | 'cacheDtype'>, shape: CacheShape, limits: CacheLimits): { window: number; bound: 'trained' | 'gpu' } {
  const slotBytes = limits.elementsPerSlot * FLOAT_BYTES[s.cacheDtype];
  const gpu = Math.floor(limits.bufferBytes / slotBytes) - s.nSinks - extraSlotsOf(shape);
  const trained = limits.trainedContext === null ? Infinity : limits.trainedContext - s.nSinks;
  return trained <= gpu ? { window: trained, bound: 'trained' } : { window: gpu, bound: 'gpu' };
}

/**
 * Settings that validate but that the model or the GPU cannot hold, refused before Apply with what
 * fits: a window (or the window a memory budget gives) past the context the model was trained on,
 * or larger than one GPU buffer holds. The engine would refuse it only after unloading the model.
 */
export function limitErrors(s: ChatSettings, shape: CacheShape, elementsPerToken: number | undefined, limits: CacheLimits): SettingsErrors {
  const window = effectiveWindow(s, shape, elementsPerToken);
  const largest = largestWindow(s, shape, limits);
  if (window <= largest.window) return {};
  const fits = formatCount(Math.max(0, largest.window));
  const sentence =
    largest.bound === 'trained'
      ? `${limits.label} was trained on ${formatCount(limits.trainedContext!)} tokens, so it can remember at most ${fits} tokens here.`
      : `This GPU can hold at most ${fits} tokens of ${limits.label}'s memory in ${s.cacheDtype === 'f16' ? '16' : '32'}-bit precision.`;
  return s.windowMode === 'tokens' ? { windowSize: sentence } : { memoryBudgetMiB: `This budget gives a window of ${formatCount(window)} tokens; ${sentence}` };
}

export function cacheChoiceOf(s: ChatSettings, shape: CacheShape, elementsPerToken: number | undefined): CacheChoice {
  const windowSize = effectiveWindow(s, shape, elementsPerToken);
  return { mode: s.nSinks > 0 ? 'streaming' : 'window', nSinks: Math.min(s.nSinks, windowSize - 1), windowSize, ...shape, dtype: s.cacheDtype };
}

/** The presets for how replies are picked, offered instead of the four sampling numbers. */
export type ReplyStyle = 'precise' | 'balanced' | 'creative';
export const REPLY_STYLES: readonly ReplyStyle[] = ['precise', 'balanced', 'creative'];
type Sampling = Pick<ChatSettings, 'temperature' | 'topP' | 'topK' | 'repetitionPenalty'>;

/** A style's sampling numbers: balanced is the model's own defaults; precise picks the likeliest
 *  words almost always, creative ranges wider. */
export function styleSampling(style: ReplyStyle, defaults: ChatSettings): Sampling {
  const { repetitionPenalty } = defaults;
  switch (style) {
    case 'precise':
      return { temperature: 0.2, topP: 0.8, topK: 20, repetitionPenalty };
    case 'balanced':
      return { temperature: defaults.temperature, topP: defaults.topP, topK: defaults.topK, repetitionPenalty };
    case 'creative':
      return { temperature: 1, topP: 0.95, topK: 80, repetitionPenalty };
  }
}

/** The style whose numbers these settings hold, or null for numbers of the user's own. */
export function styleOf(s: Sampling, defaults: ChatSettings): ReplyStyle | null {
  const same = (a: Sampling) => a.temperature === s.temperature && a.topP === s.topP && a.topK === s.topK && a.repetitionPenalty === s.repetitionPenalty;
  return REPLY_STYLES.find((style) => same(styleSampling(style, defaults))) ?? null;
}

export function samplingOf(s: ChatSettings, seed: number): SamplingParams {
  return { temperature: s.temperature, topK: s.topK, topP: s.topP, repetitionPenalty: s.repetitionPenalty, seed };
}

export const sameCache = (a: CacheChoice, b: CacheChoice): boolean => cacheIdentity(a) === cacheIdentity(b);
