// Chat settings as saved in localStorage: a record from before the cache had a choice of dtype loads
// with its model's default (16-bit for chat models, 32-bit for story models), without errors, and
// gives the cache the engine then allocates, as does a model remembered then; the model's size per
// token saved then (bytes of the f32 cache) still sizes a memory-budget window; the precision is
// validated like every other field.

import { describe, expect, it, vi } from 'vitest';
import { fitModel } from '../../src/features/models/hubModels.ts';
import { rememberedRef } from '../../src/features/models/lastModel.ts';
import { cacheChoiceOf, effectiveWindow, sameCache, validateSettings, type ChatSettings } from '../../src/features/settings/settings.ts';
import { loadElementsPerToken, loadSettings, saveElementsPerToken, saveSettings } from '../../src/features/settings/settingsStore.ts';
import { kvElementsPerToken, MODEL_CATALOG } from '../../src/models/catalog.ts';
import { KV_CACHE_DTYPE, STORY_KV_CACHE_DTYPE } from '../../src/protocol/cache.ts';

const saved = new Map<string, string>();
vi.stubGlobal('localStorage', {
  getItem: (key: string) => saved.get(key) ?? null,
  setItem: (key: string, value: string) => saved.set(key, value),
  removeItem: (key: string) => saved.delete(key),
});

const DESKTOP = { hasShaderF16: true, maxBufferSize: 2 ** 31, maxStorageBufferBindingSize: 2 ** 31 };
const qwen3 = fitModel(MODEL_CATALOG.find((e) => e.id === 'qwen3-0.6b')!, DESKTOP);
const stories = fitModel(MODEL_CATALOG.find((e) => e.id === 'stories260k')!, DESKTOP);

/** What the app saved before this change: every field of the settings of then, none about the dtype. */
const BEFORE = { nSinks: 4, windowMode: 'tokens', windowSize: 1039, memoryBudgetMiB: 256, temperature: 0.7, topP: 0.9, topK: 40, repetitionPenalty: 1.1, maxTokens: 512 };

describe('settings saved before the cache had a dtype', () => {
  it('load in their model\'s default, 16-bit for a chat model, keeping every field they saved, and pass validation', () => {
    saved.set('endless-chat:settings:qwen3-0.6b:q4f16', JSON.stringify(BEFORE));
    const settings = loadSettings('qwen3-0.6b:q4f16', qwen3.defaults);
    expect(KV_CACHE_DTYPE).toBe('f16');
    expect(settings).toEqual({ ...BEFORE, cacheDtype: 'f16' });
    expect(validateSettings(settings)).toEqual({});
    expect(cacheChoiceOf(settings, qwen3.cache, qwen3.elementsPerToken)).toMatchObject({ windowSize: 1039, dtype: 'f16' });
  });

  it('load in 32-bit for a story model, as before', () => {
    saved.set('endless-chat:settings:stories260k:fp32', JSON.stringify({ ...BEFORE, windowSize: 100, memoryBudgetMiB: 16 }));
    const settings = loadSettings('stories260k:fp32', stories.defaults);
    expect(STORY_KV_CACHE_DTYPE).toBe('f32');
    expect(settings.cacheDtype).toBe('f32');
    expect(validateSettings(settings)).toEqual({});
    expect(cacheChoiceOf(settings, stories.cache, stories.elementsPerToken)).toMatchObject({ windowSize: 100, dtype: 'f32' });
  });

  it('a model remembered then loads again with its kind\'s default, its settings valid', () => {
    const { cacheDtype: _, ...oldDefaults } = qwen3.defaults;
    const remembered = (onnxFile?: string) => JSON.stringify({ kind: 'cached', cacheId: 'c', key: 'k', label: 'l', onnxFile, defaults: oldDefaults, cache: qwen3.cache });
    saved.set('endless-chat:last-model', remembered('onnx/model_q4f16.onnx'));
    const chat = rememberedRef();
    expect(chat?.kind === 'cached' && chat.defaults.cacheDtype).toBe('f16');
    saved.set('endless-chat:last-model', remembered(undefined));
    const story = rememberedRef();
    expect(story?.kind === 'cached' && story.defaults.cacheDtype).toBe('f32');
    expect(story?.kind === 'cached' && validateSettings(loadSettings('k', story.defaults))).toEqual({});
    // A ref written now keeps what it says.
    saved.set('endless-chat:last-model', JSON.stringify({ kind: 'cached', cacheId: 'c', key: 'k', label: 'l', defaults: { ...oldDefaults, cacheDtype: 'f16' }, cache: qwen3.cache }));
    const now = rememberedRef();
    expect(now?.kind === 'cached' && now.defaults.cacheDtype).toBe('f16');
  });

  it('read the f32 bytes per token saved then as elements, so a memory budget holds twice the tokens in 16-bit', () => {
    const f32Bytes = 229_376;
    expect(f32Bytes).toBe(4 * kvElementsPerToken(MODEL_CATALOG.find((e) => e.id === 'qwen3-0.6b')!));
    saved.set('endless-chat:bytes-per-token:qwen3-0.6b:q4f16', JSON.stringify(f32Bytes));
    const elements = loadElementsPerToken('qwen3-0.6b:q4f16');
    expect(elements).toBe(qwen3.elementsPerToken);
    const budget: ChatSettings = { ...qwen3.defaults, windowMode: 'budget', memoryBudgetMiB: 256 };
    expect(effectiveWindow({ ...budget, cacheDtype: 'f32' }, qwen3.cache, elements)).toBe(1039);
    expect(effectiveWindow(budget, qwen3.cache, elements)).toBe(2209);
    // What a load saves now wins over the old record.
    saveElementsPerToken('qwen3-0.6b:q4f16', 100);
    expect(loadElementsPerToken('qwen3-0.6b:q4f16')).toBe(100);
    expect(loadElementsPerToken('never-loaded')).toBeUndefined();
  });
});

describe('memory precision', () => {
  it('is saved and loaded like the other fields, and a change of it is a different cache', () => {
    const exact: ChatSettings = { ...qwen3.defaults, cacheDtype: 'f32' };
    saveSettings('m', exact);
    expect(loadSettings('m', qwen3.defaults).cacheDtype).toBe('f32');
    const [a, b] = [cacheChoiceOf(exact, qwen3.cache, qwen3.elementsPerToken), cacheChoiceOf(qwen3.defaults, qwen3.cache, qwen3.elementsPerToken)];
    expect(a.dtype).toBe('f32');
    expect(b.dtype).toBe('f16');
    expect(sameCache(a, b)).toBe(false);
  });

  it('refuses anything but 16-bit or 32-bit with a sentence, as the other fields do', () => {
    expect(validateSettings({ ...qwen3.defaults, cacheDtype: 'bf16' as ChatSettings['cacheDtype'] })).toEqual({ cacheDtype: 'Memory precision must be 16-bit or 32-bit.' });
    expect(validateSettings({ ...qwen3.defaults, cacheDtype: 'f32' })).toEqual({});
  });
});
