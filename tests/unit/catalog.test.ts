import { describe, expect, it } from 'vitest';
import {
  ESTIMATE_PREFILL_CHUNK,
  MIN_WINDOW,
  MODEL_CATALOG,
  chooseVariant,
  estimateVram,
  hostedFileUrl,
  kvBytesPerToken,
  windowForBudget,
  type CatalogEntry,
  type DeviceCaps,
} from '../../src/engine/model/catalog.ts';
import { errorOf } from './errorOf.ts';

function entry(id: string): CatalogEntry {
  const found = MODEL_CATALOG.find((e) => e.id === id);
  if (!found) throw new Error(`no catalog entry ${id}`);
  return found;
}

const GiB = 2 ** 30;
const DESKTOP: DeviceCaps = { hasShaderF16: true, maxBufferSize: 4 * GiB, maxStorageBufferBindingSize: 2 * GiB };
const NO_F16: DeviceCaps = { ...DESKTOP, hasShaderF16: false };

describe('the catalog', () => {
  it('has unique ids and consistent shapes for every model', () => {
    expect(new Set(MODEL_CATALOG.map((e) => e.id)).size).toBe(MODEL_CATALOG.length);
    for (const e of MODEL_CATALOG) {
      expect(e.variants.length, e.id).toBeGreaterThan(0);
      expect(e.defaultSinks + e.defaultWindow, e.id).toBeLessThanOrEqual(e.trainedContext);
      expect(e.hasChatTemplate, e.id).toBe(e.format === 'onnx');
      for (const v of e.variants) expect(v.largestTensorBytes, `${e.id} ${v.dtype}`).toBeLessThan(v.weightBytes);
    }
  });

  it('lists the four chat models and the four TinyStories checkpoints', () => {
    expect(MODEL_CATALOG.map((e) => e.repo)).toEqual([
      'onnx-community/Qwen3-0.6B-ONNX',
      'onnx-community/Qwen2.5-0.5B-Instruct-ONNX-GQA',
      'onnx-community/SmolLM2-135M-Instruct-ONNX-GQA',
      'onnx-community/Llama-3.2-1B-Instruct-q4f16',
      'karpathy/tinyllamas',
      'karpathy/tinyllamas',
      'karpathy/tinyllamas',
      'karpathy/tinyllamas',
    ]);
  });

  it('fetches stories15M and larger with the llama2 tokenizer from llama2.c, and stories260K with its own', () => {
    expect(hostedFileUrl(entry('stories15m').tokenizer!)).toBe('https://raw.githubusercontent.com/karpathy/llama2.c/master/tokenizer.bin');
    expect(hostedFileUrl(entry('stories260k').tokenizer!)).toBe('https://huggingface.co/karpathy/tinyllamas/resolve/main/stories260K/tok512.bin');
  });

  it('sizes stories260K exactly as the checkpoint in ../shared is', () => {
    const e = entry('stories260k');
    expect(e.variants[0].downloadBytes).toBe(1_056_540);
    expect([e.nLayers, e.nKvHeads, e.headDim, e.vocabSize, e.trainedContext]).toEqual([5, 4, 8, 512, 512]);
  });
});

describe('kvBytesPerToken', () => {
  it('is layers x KV heads x head dim x 2 x dtype size: 114688 bytes for Qwen3-0.6B in f16', () => {
    expect(kvBytesPerToken(entry('qwen3-0.6b'), 'f16')).toBe(28 * 8 * 128 * 2 * 2);
    expect(kvBytesPerToken(entry('qwen3-0.6b'), 'f16')).toBe(114_688);
  });

  it('doubles in f32 and uses the entry\'s cache dtype by default', () => {
    expect(kvBytesPerToken(entry('qwen3-0.6b'), 'f32')).toBe(229_376);
    expect(kvBytesPerToken(entry('llama-3.2-1b-instruct'))).toBe(32_768);
    expect(kvBytesPerToken(entry('qwen2.5-0.5b-instruct'))).toBe(12_288);
    expect(kvBytesPerToken(entry('smollm2-135m-instruct'))).toBe(23_040);
    expect(kvBytesPerToken(entry('stories15m'))).toBe(6 * 6 * 48 * 2 * 4);
  });
});

describe('windowForBudget', () => {
  const qwen3 = entry('qwen3-0.6b');

  it('gives the largest window whose cache fits the budget', () => {
    // 100 MiB / 114688 B = 914.3 slots; 4 of them are sinks.
    expect(windowForBudget(qwen3, 100 * 2 ** 20, 4)).toBe(910);
    expect(windowForBudget(qwen3, (4 + 910) * 114_688, 4)).toBe(910);
    expect(windowForBudget(qwen3, (4 + 910) * 114_688 - 1, 4)).toBe(909);
  });

  it('leaves room for the ring\'s extra slots and honours the cache dtype', () => {
    expect(windowForBudget(qwen3, 100 * 2 ** 20, 4, { extraSlots: 255 })).toBe(655);
    expect(windowForBudget(qwen3, 100 * 2 ** 20, 4, { cacheDtype: 'f32' })).toBe(453);
  });

  it('never lets sinks plus window leave the trained context', () => {
    expect(windowForBudget(entry('stories15m'), 1e12, 4)).toBe(252);
    expect(windowForBudget(qwen3, Infinity, 4)).toBe(32_764);
  });

  it('refuses with DEVICE_LIMIT and a sentence when not even the minimum window fits', () => {
    const error = errorOf(() => windowForBudget(qwen3, (4 + MIN_WINDOW - 1) * 114_688, 4));
    expect(error.code).toBe('DEVICE_LIMIT');
    expect(error.message).toMatch(/Close other tabs .* or choose a smaller model\.$/);
    expect(windowForBudget(qwen3, (4 + MIN_WINDOW) * 114_688, 4)).toBe(MIN_WINDOW);
  });

  it('refuses negative or fractional sinks with CONFIG_INVALID', () => {
    expect(errorOf(() => windowForBudget(qwen3, GiB, -1)).code).toBe('CONFIG_INVALID');
    expect(errorOf(() => windowForBudget(qwen3, GiB, 1.5)).code).toBe('CONFIG_INVALID');
  });
});

describe('estimateVram', () => {
  it('adds weights, the cache of sinks plus window plus extra slots, and the stated activation overhead', () => {
    const e = entry('qwen2.5-0.5b-instruct');
    const q4f16 = e.variants.find((v) => v.dtype === 'q4f16')!;
    const estimate = estimateVram(e, q4f16, 2044, { extraSlots: 255 });
    expect(estimate.weights).toBe(478e6);
    expect(estimate.cache).toBe((4 + 2044 + 255) * 12_288);
    expect(estimate.activations).toBe(ESTIMATE_PREFILL_CHUNK * (151_936 + 16 * 896) * 4);
    expect(estimate.total).toBe(estimate.weights + estimate.cache + estimate.activations);
  });

  it('counts the classifier copy that the llama2.c exporter adds', () => {
    const e = entry('stories15m');
    expect(estimateVram(e, e.variants[0], 252).weights).toBe(60_816_028 + 32_000 * 288 * 4);
  });
});

describe('chooseVariant', () => {
  it('picks q4f16 when the device has shader-f16', () => {
    expect(chooseVariant(entry('qwen2.5-0.5b-instruct'), DESKTOP).dtype).toBe('q4f16');
    expect(chooseVariant(entry('qwen3-0.6b'), DESKTOP).dtype).toBe('q4f16');
  });

  it('falls back to q4 without shader-f16, and to fp32 for the llama2.c models', () => {
    expect(chooseVariant(entry('qwen2.5-0.5b-instruct'), NO_F16).dtype).toBe('q4');
    expect(chooseVariant(entry('stories110m'), NO_F16).dtype).toBe('fp32');
  });

  it('refuses a model published only in f16 weights with SHADER_F16_MISSING when the feature is missing', () => {
    const error = errorOf(() => chooseVariant(entry('llama-3.2-1b-instruct'), NO_F16));
    expect(error.code).toBe('SHADER_F16_MISSING');
    expect(error.message).toMatch(/Choose another model/);
  });

  it('refuses with DEVICE_LIMIT when the embedding exceeds maxStorageBufferBindingSize', () => {
    // Qwen3's fp16 embedding is 151936 x 1024 x 2 = 311164928 bytes; the WebGPU default binding limit is 128 MiB.
    const small: DeviceCaps = { hasShaderF16: true, maxBufferSize: 256 * 2 ** 20, maxStorageBufferBindingSize: 128 * 2 ** 20 };
    const error = errorOf(() => chooseVariant(entry('qwen3-0.6b'), small));
    expect(error.code).toBe('DEVICE_LIMIT');
    expect(error.message).toContain('311 MB in its q4f16 weights');
    expect(error.message).toContain('(134 MB)');
  });

  it('skips a variant whose largest tensor does not fit for one that does', () => {
    // 400 MiB holds the f16 embedding (311 MB) but not the fp32 one of q4 (622 MB).
    const mid: DeviceCaps = { hasShaderF16: true, maxBufferSize: GiB, maxStorageBufferBindingSize: 400 * 2 ** 20 };
    expect(chooseVariant(entry('qwen3-0.6b'), mid).dtype).toBe('q4f16');
    const error = errorOf(() => chooseVariant(entry('qwen3-0.6b'), { ...mid, hasShaderF16: false }));
    expect(error.code).toBe('DEVICE_LIMIT');
    expect(error.message).toContain('Its f16 weights would fit, but they need shader-f16');
  });

  it('takes the smaller of maxBufferSize and maxStorageBufferBindingSize as the limit', () => {
    // SmolLM2's embedding is 56.6 MB in f16 and 113.2 MB in f32.
    const e = entry('smollm2-135m-instruct');
    for (const [maxBufferSize, maxStorageBufferBindingSize] of [[100e6, 2 * GiB], [2 * GiB, 100e6]]) {
      expect(chooseVariant(e, { hasShaderF16: true, maxBufferSize, maxStorageBufferBindingSize }).dtype).toBe('q4f16');
      expect(errorOf(() => chooseVariant(e, { hasShaderF16: false, maxBufferSize, maxStorageBufferBindingSize })).code).toBe('DEVICE_LIMIT');
    }
  });
});
