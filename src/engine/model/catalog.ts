// The curated models users can pick, as plain data (where the files are, the shapes that size the
// KV cache, the largest tensor of each weight variant), and the arithmetic that fits one to a GPU:
// KV bytes per token, the window a memory budget allows, a VRAM estimate and the variant to load.

import { EngineError } from '../../protocol/errors.ts';
import type { CacheDtype } from '../kv/kvCache.ts';

/** Weight formats as onnx-community names them; q4f16 and fp16 need shader-f16 in ORT's kernels. */
export type WeightDtype = 'q4f16' | 'q4' | 'fp16' | 'fp32';

/** A file outside the model's own repository. */
export interface HostedFile {
  host: 'huggingface' | 'github';
  repo: string;
  revision: string;
  path: string;
}

export interface ModelVariant {
  dtype: WeightDtype;
  /** Path in the entry's repository: an ONNX graph with its weights embedded, or a llama2.c checkpoint. */
  file: string;
  /** Download size as the hub lists it (so rounded). */
  downloadBytes: number;
  /** Weight bytes on the GPU: the download, plus the transposed classifier the llama2.c exporter adds. */
  weightBytes: number;
  /** The largest single tensor, which one GPU buffer must hold: the token embedding for every model here. */
  largestTensorBytes: number;
  /** True when largestTensorBytes is inferred (embedding dtype deduced from file sizes), not read from the file. */
  largestTensorEstimated: boolean;
}

export interface CatalogEntry {
  id: string;
  label: string;
  format: 'onnx' | 'llama2c';
  /** Hugging Face repository with the weights (and, for ONNX models, config and tokenizer files). */
  repo: string;
  /** llama2.c tokenizer, which stories15M and larger share with llama2.c's own repository. */
  tokenizer?: HostedFile;
  /** Computed from the config shapes, tied embeddings counted once. */
  parameters: number;
  nLayers: number;
  nKvHeads: number;
  headDim: number;
  hiddenSize: number;
  vocabSize: number;
  /** Positions the model was trained on; sinks plus window must stay within it. */
  trainedContext: number;
  kvCacheDtype: CacheDtype;
  defaultSinks: number;
  defaultWindow: number;
  hasChatTemplate: boolean;
  variants: readonly ModelVariant[];
  /** Facts that could not be checked against the model's own files. */
  unverified: readonly string[];
}

/** Smallest window worth chatting with; a budget that cannot hold it is refused. */
export const MIN_WINDOW = 64;
/** Prefill chunk the activation estimate assumes. */
export const ESTIMATE_PREFILL_CHUNK = 256;

const MB = 1e6;
const GB = 1e9;

// Bytes per element of the token embedding in each variant.
const EMBEDDING_BYTES: Record<WeightDtype, number> = { q4f16: 2, q4: 4, fp16: 2, fp32: 4 };

/**
 * An ONNX variant whose largest tensor is the token embedding, stored in fp16 for the f16 variants
 * and fp32 otherwise: the q4 exports quantize MatMul weights only (MatMulNBits) and keep the
 * Gather's embedding as it was, which their file sizes bear out.
 */
function onnxVariant(dtype: WeightDtype, file: string, downloadBytes: number, vocabSize: number, hiddenSize: number): ModelVariant {
  return {
    dtype,
    file,
    downloadBytes,
    weightBytes: downloadBytes,
    largestTensorBytes: vocabSize * hiddenSize * EMBEDDING_BYTES[dtype],
    largestTensorEstimated: dtype === 'q4' || dtype === 'q4f16',
  };
}

/** A llama2.c fp32 checkpoint; the exporter adds a transposed [dim, vocab] classifier, so the embedding size counts twice. */
function llama2cVariant(file: string, downloadBytes: number, vocabSize: number, dim: number): ModelVariant {
  const embeddingBytes = vocabSize * dim * 4;
  return { dtype: 'fp32', file, downloadBytes, weightBytes: downloadBytes + embeddingBytes, largestTensorBytes: embeddingBytes, largestTensorEstimated: false };
}

const STORY_TOKENIZER: HostedFile = { host: 'github', repo: 'karpathy/llama2.c', revision: 'master', path: 'tokenizer.bin' };

function story(id: string, label: string, shape: { dim: number; nLayers: number; nHeads: number; nKvHeads: number; vocabSize: number; seqLen: number }, parameters: number, file: string, downloadBytes: number, tokenizer: HostedFile): CatalogEntry {
  const { dim, nLayers, nHeads, nKvHeads, vocabSize, seqLen } = shape;
  return {
    id,
    label,
    format: 'llama2c',
    repo: 'karpathy/tinyllamas',
    tokenizer,
    parameters,
    nLayers,
    nKvHeads,
    headDim: dim / nHeads,
    hiddenSize: dim,
    vocabSize,
    trainedContext: seqLen,
    kvCacheDtype: 'f32',
    defaultSinks: 4,
    defaultWindow: seqLen - 4,
    hasChatTemplate: false,
    variants: [llama2cVariant(file, downloadBytes, vocabSize, dim)],
    unverified: [],
  };
}

export const MODEL_CATALOG: readonly CatalogEntry[] = [
  {
    id: 'qwen3-0.6b',
    label: 'Qwen3 0.6B',
    format: 'onnx',
    repo: 'onnx-community/Qwen3-0.6B-ONNX',
    parameters: 596_049_920,
    nLayers: 28,
    nKvHeads: 8,
    headDim: 128,
    hiddenSize: 1024,
    vocabSize: 151_936,
    trainedContext: 32_768,
    kvCacheDtype: 'f16',
    defaultSinks: 4,
    defaultWindow: 2044,
    hasChatTemplate: true,
    variants: [
      onnxVariant('q4f16', 'onnx/model_q4f16.onnx', 570 * MB, 151_936, 1024),
      onnxVariant('q4', 'onnx/model_q4.onnx', 919 * MB, 151_936, 1024),
    ],
    unverified: [
      'Download sizes are the approximate ones reported by webai-at-home, not the hub listing.',
      'Whether the repository also has fp16 and fp32 files was not checked; they are left out.',
    ],
  },
  {
    id: 'qwen2.5-0.5b-instruct',
    label: 'Qwen2.5 0.5B Instruct',
    format: 'onnx',
    repo: 'onnx-community/Qwen2.5-0.5B-Instruct-ONNX-GQA',
    parameters: 494_032_768,
    nLayers: 24,
    nKvHeads: 2,
    headDim: 64,
    hiddenSize: 896,
    vocabSize: 151_936,
    trainedContext: 32_768,
    kvCacheDtype: 'f16',
    defaultSinks: 4,
    defaultWindow: 2044,
    hasChatTemplate: true,
    variants: [
      onnxVariant('q4f16', 'onnx/model_q4f16.onnx', 478 * MB, 151_936, 896),
      onnxVariant('q4', 'onnx/model_q4.onnx', 777 * MB, 151_936, 896),
      onnxVariant('fp16', 'onnx/model_fp16.onnx', 992 * MB, 151_936, 896),
      onnxVariant('fp32', 'onnx/model.onnx', 1.98 * GB, 151_936, 896),
    ],
    unverified: [],
  },
  {
    id: 'smollm2-135m-instruct',
    label: 'SmolLM2 135M Instruct',
    format: 'onnx',
    repo: 'onnx-community/SmolLM2-135M-Instruct-ONNX-GQA',
    parameters: 134_515_008,
    nLayers: 30,
    nKvHeads: 3,
    headDim: 64,
    hiddenSize: 576,
    vocabSize: 49_152,
    trainedContext: 8192,
    kvCacheDtype: 'f16',
    defaultSinks: 4,
    defaultWindow: 2044,
    hasChatTemplate: true,
    variants: [
      onnxVariant('q4f16', 'onnx/model_q4f16.onnx', 134 * MB, 49_152, 576),
      onnxVariant('q4', 'onnx/model_q4.onnx', 200 * MB, 49_152, 576),
      onnxVariant('fp16', 'onnx/model_fp16.onnx', 327 * MB, 49_152, 576),
      onnxVariant('fp32', 'onnx/model.onnx', 654 * MB, 49_152, 576),
    ],
    unverified: [
      'The onnx/ folder of the GQA repository was not listed: file names follow Qwen2.5-0.5B-Instruct-ONNX-GQA and sizes are those of HuggingFaceTB/SmolLM2-135M-Instruct/onnx.',
    ],
  },
  {
    id: 'llama-3.2-1b-instruct',
    label: 'Llama 3.2 1B Instruct',
    format: 'onnx',
    repo: 'onnx-community/Llama-3.2-1B-Instruct-q4f16',
    parameters: 1_235_814_400,
    nLayers: 16,
    nKvHeads: 8,
    headDim: 64,
    hiddenSize: 2048,
    vocabSize: 128_256,
    trainedContext: 131_072,
    kvCacheDtype: 'f16',
    defaultSinks: 4,
    defaultWindow: 2044,
    hasChatTemplate: true,
    variants: [onnxVariant('q4f16', 'onnx/model_q4f16.onnx', 1.24 * GB, 128_256, 2048)],
    unverified: [
      'The graph was not opened: that it uses GroupQueryAttention rests on the genai_config.json beside it (an onnxruntime-genai builder export).',
      'onnx-community/Llama-3.2-1B-Instruct-onnx-web-gqa is the same kind of export; its onnx/ file names were not seen.',
      'Its 128k context relies on llama3 RoPE scaling, which the window never reaches.',
    ],
  },
  story('stories260k', 'TinyStories 260K (llama2.c)', { dim: 64, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512 }, 260_000, 'stories260K/stories260K.bin', 1_056_540, {
    host: 'huggingface',
    repo: 'karpathy/tinyllamas',
    revision: 'main',
    path: 'stories260K/tok512.bin',
  }),
  story('stories15m', 'TinyStories 15M (llama2.c)', { dim: 288, nLayers: 6, nHeads: 6, nKvHeads: 6, vocabSize: 32_000, seqLen: 256 }, 15_000_000, 'stories15M.bin', 60_816_028, STORY_TOKENIZER),
  story('stories42m', 'TinyStories 42M (llama2.c)', { dim: 512, nLayers: 8, nHeads: 8, nKvHeads: 8, vocabSize: 32_000, seqLen: 1024 }, 42_000_000, 'stories42M.bin', 167_020_572, STORY_TOKENIZER),
  story('stories110m', 'TinyStories 110M (llama2.c)', { dim: 768, nLayers: 12, nHeads: 12, nKvHeads: 12, vocabSize: 32_000, seqLen: 1024 }, 110_000_000, 'stories110M.bin', 438_381_596, STORY_TOKENIZER),
];

/** Where a browser fetches a hosted file; both hosts answer cross-origin requests. */
export function hostedFileUrl(file: HostedFile): string {
  return file.host === 'huggingface'
    ? `https://huggingface.co/${file.repo}/resolve/${file.revision}/${file.path}`
    : `https://raw.githubusercontent.com/${file.repo}/${file.revision}/${file.path}`;
}

/** K and V of one token in every layer: nLayers x nKvHeads x headDim x 2 x the cache dtype's size. */
export function kvBytesPerToken(entry: CatalogEntry, cacheDtype: CacheDtype = entry.kvCacheDtype): number {
  return entry.nLayers * entry.nKvHeads * entry.headDim * 2 * (cacheDtype === 'f16' ? 2 : 4);
}

export interface CacheShape {
  sinks?: number;
  /** Ring slots beyond the window: ringLayout's maxChunk - 1 plus any rollback slots. */
  extraSlots?: number;
  cacheDtype?: CacheDtype;
}

/**
 * The largest window whose cache (sinks + window + extra slots) fits in budgetBytes, capped so that
 * sinks + window stay within the trained context (cache positions beyond it were never trained).
 * Refuses with DEVICE_LIMIT when not even MIN_WINDOW fits.
 */
export function windowForBudget(entry: CatalogEntry, budgetBytes: number, sinks = entry.defaultSinks, shape: Omit<CacheShape, 'sinks'> = {}): number {
  const extraSlots = shape.extraSlots ?? 0;
  if (!Number.isInteger(sinks) || sinks < 0 || !Number.isInteger(extraSlots) || extraSlots < 0 || !(budgetBytes >= 0)) {
    throw new EngineError('CONFIG_INVALID', `The cache needs whole numbers of sinks and extra slots and a memory budget of 0 or more bytes; got ${sinks}, ${extraSlots} and ${budgetBytes}.`);
  }
  const perToken = kvBytesPerToken(entry, shape.cacheDtype);
  const window = Math.min(Math.floor(budgetBytes / perToken) - sinks - extraSlots, entry.trainedContext - sinks);
  if (window < MIN_WINDOW) {
    throw new EngineError(
      'DEVICE_LIMIT',
      `${entry.label} needs ${mb((sinks + MIN_WINDOW + extraSlots) * perToken)} MB of GPU memory for even a ${MIN_WINDOW}-token window, ` +
        `but only ${mb(budgetBytes)} MB is available for its cache. Close other tabs that use the GPU, or choose a smaller model.`,
    );
  }
  return window;
}

export interface VramEstimate {
  weights: number;
  cache: number;
  /** ESTIMATE_PREFILL_CHUNK tokens of f32 logits plus 16 hidden-size f32 vectors per token (residual, norms, q/k/v, attention output, MLP); a rule of thumb, not a measurement. */
  activations: number;
  total: number;
}

export function estimateVram(entry: CatalogEntry, variant: ModelVariant, window: number, shape: CacheShape = {}): VramEstimate {
  const slots = (shape.sinks ?? entry.defaultSinks) + window + (shape.extraSlots ?? 0);
  const cache = slots * kvBytesPerToken(entry, shape.cacheDtype);
  const activations = ESTIMATE_PREFILL_CHUNK * (entry.vocabSize + 16 * entry.hiddenSize) * 4;
  return { weights: variant.weightBytes, cache, activations, total: variant.weightBytes + cache + activations };
}

export interface DeviceCaps {
  hasShaderF16: boolean;
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

const NEEDS_F16: ReadonlySet<WeightDtype> = new Set(['q4f16', 'fp16']);

/**
 * The variant to load: the smallest f16 one when the device has shader-f16, else q4, else fp32;
 * among those, the first whose largest tensor fits in one buffer. Refuses with SHADER_F16_MISSING
 * when only f16 weights exist and the device lacks the feature, and with DEVICE_LIMIT when no usable
 * variant's largest tensor fits.
 */
export function chooseVariant(entry: CatalogEntry, device: DeviceCaps): ModelVariant {
  const order: WeightDtype[] = device.hasShaderF16 ? ['q4f16', 'fp16', 'q4', 'fp32'] : ['q4', 'fp32'];
  const usable = order.flatMap((dtype) => entry.variants.filter((v) => v.dtype === dtype));
  if (usable.length === 0) {
    throw new EngineError(
      'SHADER_F16_MISSING',
      `${entry.label} is published only with ${entry.variants.map((v) => v.dtype).join(' and ')} weights, which need the GPU feature shader-f16, ` +
        'and this GPU or browser does not offer it. Choose another model, or use a browser and GPU with shader-f16 (recent Chrome on most desktop GPUs).',
    );
  }
  const limit = Math.min(device.maxBufferSize, device.maxStorageBufferBindingSize);
  const fitting = usable.find((v) => v.largestTensorBytes <= limit);
  if (fitting) return fitting;
  const smallest = usable.reduce((a, b) => (b.largestTensorBytes < a.largestTensorBytes ? b : a));
  const f16Fits = !device.hasShaderF16 && entry.variants.some((v) => NEEDS_F16.has(v.dtype) && v.largestTensorBytes <= limit);
  throw new EngineError(
    'DEVICE_LIMIT',
    `The largest tensor of ${entry.label} (${mb(smallest.largestTensorBytes)} MB in its ${smallest.dtype} weights) is larger than this GPU allows ` +
      `in one buffer (${mb(limit)} MB).` +
      (f16Fits ? ' Its f16 weights would fit, but they need shader-f16, which this GPU or browser does not offer.' : '') +
      ' Choose a smaller model.',
  );
}

function mb(bytes: number): string {
  return (bytes / MB).toFixed(0);
}
