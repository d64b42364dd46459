import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolveHubModel } from '../../src/models/hub.ts';
import { startHubServer, type HubServer } from '../../lab/hubServer.ts';
import {
  ESTIMATE_PREFILL_CHUNK,
  MIN_WINDOW,
  MODEL_CATALOG,
  chooseVariant,
  entryFromHub,
  estimateVram,
  hostedFileUrl,
  kvBytesPerToken,
  onnxVariantsOf,
  recommendedEntry,
  windowForBudget,
  type CatalogEntry,
  type DeviceCaps,
} from '../../src/models/catalog.ts';
import { fitModel, KV_BUDGET_BYTES, variantLine, windowLine, windowOf } from '../../src/features/models/hubModels.ts';
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

  it('sizes stories260K exactly as the built-in checkpoint is', () => {
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

  it('is in the dtype the model starts in unless asked for another: f16 for chat models, f32 for story models', () => {
    expect(kvBytesPerToken(entry('qwen3-0.6b'))).toBe(114_688);
    expect(kvBytesPerToken(entry('llama-3.2-1b-instruct'))).toBe(32_768);
    expect(kvBytesPerToken(entry('qwen2.5-0.5b-instruct'))).toBe(12_288);
    expect(kvBytesPerToken(entry('smollm2-135m-instruct'))).toBe(23_040);
    expect(kvBytesPerToken(entry('stories15m'))).toBe(6 * 6 * 48 * 2 * 4);
    expect(kvBytesPerToken(entry('stories15m'), 'f16')).toBe(6 * 6 * 48 * 2 * 2);
  });

  it('doubles in f32', () => {
    expect(kvBytesPerToken(entry('qwen3-0.6b'), 'f32')).toBe(229_376);
    expect(kvBytesPerToken(entry('llama-3.2-1b-instruct'), 'f32')).toBe(65_536);
    expect(kvBytesPerToken(entry('qwen2.5-0.5b-instruct'), 'f32')).toBe(24_576);
    expect(kvBytesPerToken(entry('smollm2-135m-instruct'), 'f32')).toBe(46_080);
    expect(kvBytesPerToken(entry('stories15m'), 'f32')).toBe(6 * 6 * 48 * 2 * 4);
  });

  it('counts heads narrower than 16 as the GQA export holds them, padded to 16', () => {
    expect(kvBytesPerToken(entry('stories260k'))).toBe(5 * 4 * 16 * 2 * 4);
    expect(kvBytesPerToken(entry('stories260k'), 'f16')).toBe(5 * 4 * 16 * 2 * 2);
  });
});

describe('windowForBudget', () => {
  const qwen3 = entry('qwen3-0.6b');

  it('gives the largest window whose cache fits the budget', () => {
    // 100 MiB / 114688 B (f16) = 914.3 slots; 4 of them are sinks.
    expect(windowForBudget(qwen3, 100 * 2 ** 20, 4)).toBe(910);
    expect(windowForBudget(qwen3, (4 + 910) * 114_688, 4)).toBe(910);
    expect(windowForBudget(qwen3, (4 + 910) * 114_688 - 1, 4)).toBe(909);
  });

  it('leaves room for the ring\'s extra slots and honours the cache dtype', () => {
    expect(windowForBudget(qwen3, 100 * 2 ** 20, 4, { extraSlots: 255 })).toBe(655);
    // 100 MiB / 229376 B (f32) = 457.1 slots.
    expect(windowForBudget(qwen3, 100 * 2 ** 20, 4, { cacheDtype: 'f32' })).toBe(453);
    expect(windowForBudget(qwen3, 100 * 2 ** 20, 4, { extraSlots: 255, cacheDtype: 'f32' })).toBe(198);
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
    expect(errorOf(() => windowForBudget(qwen3, (4 + MIN_WINDOW) * 114_688, 4, { cacheDtype: 'f32' })).code).toBe('DEVICE_LIMIT');
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
    expect(estimateVram(e, q4f16, 2044, { extraSlots: 255, cacheDtype: 'f32' }).cache).toBe((4 + 2044 + 255) * 24_576);
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

  it('takes a model published only in f16 weights widened to f32 when the feature is missing, counting the widened embedding', () => {
    const llama = entry('llama-3.2-1b-instruct');
    const variant = chooseVariant(llama, NO_F16);
    expect(variant).toMatchObject({ dtype: 'q4f16', file: 'onnx/model_q4f16.onnx', widened: true });
    expect(variant.largestTensorBytes).toBe(2 * llama.variants[0].largestTensorBytes);
    expect(variant.weightBytes).toBe(llama.variants[0].weightBytes + llama.variants[0].largestTensorBytes);
    expect(chooseVariant(llama, DESKTOP).widened).toBeUndefined();
  });

  it('refuses with DEVICE_LIMIT when the embedding exceeds maxStorageBufferBindingSize', () => {
    // Qwen3's fp16 embedding is 151936 x 1024 x 2 = 311164928 bytes (297 MiB); the WebGPU default binding limit is 128 MiB.
    const small: DeviceCaps = { hasShaderF16: true, maxBufferSize: 256 * 2 ** 20, maxStorageBufferBindingSize: 128 * 2 ** 20 };
    const error = errorOf(() => chooseVariant(entry('qwen3-0.6b'), small));
    expect(error.code).toBe('DEVICE_LIMIT');
    expect(error.message).toContain('297 MiB in its q4f16 weights');
    expect(error.message).toContain('(128 MiB)');
  });

  it('skips a variant whose largest tensor does not fit for one that does', () => {
    // 400 MiB holds the f16 embedding (311 MB) but not the fp32 one of q4 (622 MB).
    const mid: DeviceCaps = { hasShaderF16: true, maxBufferSize: GiB, maxStorageBufferBindingSize: 400 * 2 ** 20 };
    expect(chooseVariant(entry('qwen3-0.6b'), mid).dtype).toBe('q4f16');
    const error = errorOf(() => chooseVariant(entry('qwen3-0.6b'), { ...mid, hasShaderF16: false }));
    expect(error.code).toBe('DEVICE_LIMIT');
    expect(error.message).toContain('Its f16 weights would fit as they are on a GPU with shader-f16');
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

// The file list of onnx-community/Qwen2.5-0.5B-Instruct-ONNX-GQA's kind, with formats this runtime skips.
const LISTING = [
  { path: 'config.json', size: 700 },
  { path: 'tokenizer.json', size: 7_000_000 },
  { path: 'onnx/model.onnx', size: 300_000 },
  { path: 'onnx/model.onnx_data', size: 1_900_000_000 },
  { path: 'onnx/model_fp16.onnx', size: 992_000_000 },
  { path: 'onnx/model_q4.onnx', size: 777_000_000 },
  { path: 'onnx/model_q4f16.onnx', size: 478_000_000 },
  { path: 'onnx/model_int8.onnx', size: 500_000_000 },
  { path: 'onnx/model_bnb4.onnx', size: 400_000_000 },
  { path: 'onnx/decoder_model_merged_q4.onnx', size: 780_000_000 },
];
const QWEN25_CONFIG = { hidden_size: 896, num_attention_heads: 14, num_key_value_heads: 2, num_hidden_layers: 24, vocab_size: 151_936, max_position_embeddings: 32_768 };

describe('a repository typed in', () => {
  it('offers its fp32, fp16, q4 and q4f16 decoders with their external data, the plain exports before optimum\'s', () => {
    const variants = onnxVariantsOf(LISTING, 151_936, 896);
    expect(variants.map((v) => [v.file, v.dtype])).toEqual([
      ['onnx/model.onnx', 'fp32'],
      ['onnx/model_fp16.onnx', 'fp16'],
      ['onnx/model_q4.onnx', 'q4'],
      ['onnx/model_q4f16.onnx', 'q4f16'],
      ['onnx/decoder_model_merged_q4.onnx', 'q4'],
    ]);
    expect(variants[0].downloadBytes).toBe(1_900_300_000);
    expect(variants[3].largestTensorBytes).toBe(151_936 * 896 * 2);
  });

  it('is sized from its config.json like a catalog entry, and picks q4f16 with shader-f16 and q4 without', () => {
    const e = entryFromHub('someone/Qwen2.5-GQA', LISTING, QWEN25_CONFIG);
    expect([e.nLayers, e.nKvHeads, e.headDim, e.trainedContext]).toEqual([24, 2, 64, 32_768]);
    expect(kvBytesPerToken(e)).toBe(kvBytesPerToken(entry('qwen2.5-0.5b-instruct')));
    expect(chooseVariant(e, DESKTOP).file).toBe('onnx/model_q4f16.onnx');
    expect(chooseVariant(e, NO_F16).file).toBe('onnx/model_q4.onnx');
    // Its fp32 embedding (545 MB) needs more than 400 MiB in one binding; the f16 one (272 MB) does not.
    expect(errorOf(() => chooseVariant(e, { ...NO_F16, maxStorageBufferBindingSize: 400 * 2 ** 20 })).message).toContain('Its f16 weights would fit');
  });

  it('is refused with the .onnx files it holds when none is a decoder this runtime reads', () => {
    const error = errorOf(() => entryFromHub('someone/int8-only', [{ path: 'onnx/model_int8.onnx', size: 1 }], QWEN25_CONFIG));
    expect(error.code).toBe('MODEL_UNSUPPORTED');
    expect(error.message).toContain('it holds onnx/model_int8.onnx.');
    expect(errorOf(() => entryFromHub('someone/bert', LISTING, { hidden_size: 768 })).code).toBe('MODEL_UNSUPPORTED');
  });
});

describe('fitting a model to the GPU for the picker', () => {
  it('gives Qwen3 q4 weights without shader-f16 and the window 256 MiB of f16 cache allows, at least 2,000 tokens', () => {
    const choice = fitModel(entry('qwen3-0.6b'), NO_F16);
    expect(choice.variant.dtype).toBe('q4');
    // 256 MiB / 114688 bytes (f16) = 2340 slots: 4 sinks, 127 ring slots for chunks and rollback, 2209
    // window, cut to the 2,044 every chat model starts with. In f32 the same budget held 1,039.
    expect(windowForBudget(entry('qwen3-0.6b'), KV_BUDGET_BYTES, 4, { extraSlots: 127 })).toBe(2209);
    expect(windowForBudget(entry('qwen3-0.6b'), KV_BUDGET_BYTES, 4, { extraSlots: 127, cacheDtype: 'f32' })).toBe(1039);
    expect(choice.defaults.windowSize).toBe(2044);
    expect(choice.defaults.windowSize).toBeGreaterThanOrEqual(2000);
    expect(windowLine(windowOf(choice, choice.defaults))).toBe('window 2,044 tokens = 238 MiB of KV cache');
    expect(windowLine(windowOf(choice, { ...choice.defaults, cacheDtype: 'f32' }))).toBe('window 2,044 tokens = 476 MiB of KV cache');
    expect(windowLine(windowOf(choice, { ...choice.defaults, windowMode: 'budget' }))).toBe('window 2,209 tokens = 256 MiB of KV cache');
    expect(windowLine(windowOf(choice, { ...choice.defaults, windowMode: 'budget', cacheDtype: 'f32' }))).toBe('window 1,039 tokens = 256 MiB of KV cache');
    expect(variantLine(choice, NO_F16)).toBe('q4 weights (no shader-f16 on this GPU), 876 MiB to download');
    expect(variantLine(fitModel(entry('qwen3-0.6b'), DESKTOP), DESKTOP)).toBe('q4f16 weights, 544 MiB to download');
  });

  it('keeps the story models\' short window and sizes its cache', () => {
    const choice = fitModel(entry('stories260k'), NO_F16);
    expect(choice.defaults.windowSize).toBe(256);
    expect(choice.defaults.cacheDtype).toBe('f32');
    expect(windowOf(choice, choice.defaults)).toEqual({ window: 256, cacheBytes: (4 + 256 + 127) * 2560 });
    expect(windowOf(choice, { ...choice.defaults, cacheDtype: 'f16' })).toEqual({ window: 256, cacheBytes: (4 + 256 + 127) * 1280 });
    expect(windowOf(choice, { ...choice.defaults, windowSize: 100 }).window).toBe(100);
  });

  it('says before any download that f16 weights will be widened, and refuses what the GPU cannot run', () => {
    expect(variantLine(fitModel(entry('llama-3.2-1b-instruct'), NO_F16), NO_F16)).toBe('q4f16 weights widened to f32 at load (no shader-f16 on this GPU), 1.2 GiB to download');
    const tiny: DeviceCaps = { hasShaderF16: true, maxBufferSize: 64 * 2 ** 20, maxStorageBufferBindingSize: 64 * 2 ** 20 };
    expect(errorOf(() => fitModel(entry('qwen3-0.6b'), tiny)).code).toBe('DEVICE_LIMIT');
  });
});

describe('a llama2.c tokenizer hosted outside the hub, as stories15M\'s is on GitHub', () => {
  const TOKENIZER = new Uint8Array(4321).fill(7);
  let hub: HubServer;
  let github: Server;
  let githubUrl: string;

  beforeAll(async () => {
    hub = await startHubServer([{ id: 'karpathy/tinyllamas', files: [{ path: 'stories15M.bin', bytes: new Uint8Array(100), lfs: true }] }]);
    github = createServer((req, res) => {
      if (req.url === '/karpathy/llama2.c/master/tokenizer.bin') return res.writeHead(200, { 'content-length': TOKENIZER.length }).end(req.method === 'HEAD' ? undefined : TOKENIZER);
      if (req.url === '/gzipped.bin') return res.writeHead(200, { 'content-length': 100, 'content-encoding': 'gzip' }).end();
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => github.listen(0, '127.0.0.1', resolve));
    githubUrl = `http://127.0.0.1:${(github.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await hub?.close();
    await new Promise((resolve) => github?.close(resolve));
  });

  const spec = (url: string) => ({ repo: 'karpathy/tinyllamas', files: ['stories15M.bin'], hosted: [{ path: 'tokenizer.bin', url }] });

  it('is sized by a HEAD request and downloaded beside the checkpoint, checked by size only', async () => {
    const remote = await resolveHubModel(spec(`${githubUrl}/karpathy/llama2.c/master/tokenizer.bin`), hub.hubUrl);
    expect(remote.files.map((f) => [f.path, f.size, f.digest?.algorithm ?? null])).toEqual([
      ['stories15M.bin', 100, 'sha256'],
      ['tokenizer.bin', 4321, null],
    ]);
    expect(hostedFileUrl(entry('stories15m').tokenizer!)).toBe('https://raw.githubusercontent.com/karpathy/llama2.c/master/tokenizer.bin');
  });

  it('is refused with a sentence when the host lost it or does not give its size', async () => {
    expect((await resolveHubModel(spec(`${githubUrl}/gone.bin`), hub.hubUrl).catch((e) => e)).code).toBe('MODEL_NOT_FOUND');
    const gzipped = await resolveHubModel(spec(`${githubUrl}/gzipped.bin`), hub.hubUrl).catch((e) => e);
    expect(gzipped.code).toBe('DOWNLOAD_FAILED');
    expect(gzipped.message).toMatch(/did not say how large .* Open the model from local files instead\.$/);
  });
});

describe('recommendedEntry', () => {
  const window = () => ({ window: 1024, shape: { sinks: 4, extraSlots: 127, cacheDtype: 'f32' as const } });
  const big = { maxBufferSize: 2 ** 31, maxStorageBufferBindingSize: 2 ** 31 };

  it('picks the largest chat model whose weights this GPU runs and whose estimate fits the budget', () => {
    expect(recommendedEntry({ hasShaderF16: true, ...big }, 4 * 2 ** 30, window)?.entry.id).toBe('llama-3.2-1b-instruct');
    // Without shader-f16, Llama 3.2 1B (q4f16 only) would run widened to f32; Qwen3 0.6B in q4 runs as published.
    const noF16 = recommendedEntry({ hasShaderF16: false, ...big }, 4 * 2 ** 30, window);
    expect([noF16?.entry.id, noF16?.variant.dtype]).toEqual(['qwen3-0.6b', 'q4']);
    // With only Llama 3.2 1B to choose from, its widened weights are recommended rather than nothing.
    const llama = MODEL_CATALOG.filter((e) => e.id === 'llama-3.2-1b-instruct');
    expect(recommendedEntry({ hasShaderF16: false, ...big }, 4 * 2 ** 30, window, llama)?.variant.widened).toBe(true);
  });

  it('steps down to a smaller model as the budget shrinks, and to none when nothing fits', () => {
    const small = recommendedEntry({ hasShaderF16: true, ...big }, 600 * 2 ** 20, window);
    expect(small?.entry.id).toBe('smollm2-135m-instruct');
    expect(small!.vram.total).toBeLessThanOrEqual(600 * 2 ** 20);
    expect(recommendedEntry({ hasShaderF16: true, ...big }, 64 * 2 ** 20, window)).toBeNull();
  });

  it('never recommends a story model, which has no chat format', () => {
    const chosen = recommendedEntry({ hasShaderF16: false, maxBufferSize: 2 ** 31, maxStorageBufferBindingSize: 2 ** 31 }, 2 ** 40, window);
    expect(chosen?.entry.hasChatTemplate).toBe(true);
  });
});
