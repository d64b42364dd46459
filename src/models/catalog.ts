// The models users can pick, as plain data (where the files are, the shapes that size the KV cache,
// the largest tensor of each weight variant): the curated list, and an entry built from any hub
// repository's file list and config.json. Then the arithmetic that fits one to a GPU: KV bytes per
// token, the window a memory budget allows, a VRAM estimate and the variant to load.

import { FLOAT_BYTES, KV_CACHE_DTYPE, STORY_KV_CACHE_DTYPE, windowInBudget } from '../protocol/cache.ts';
import { EngineError } from '../protocol/errors.ts';
import { formatBytes } from '../protocol/format.ts';
import type { CacheDtype } from '../protocol/messages.ts';
import { isOnnxExternalData } from './hub.ts';

/** Weight formats as onnx-community names them; q4f16 and fp16 run widened to f32 without shader-f16. */
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
  /** f16 weights that the engine widens to f32 at load, on a GPU without shader-f16. */
  widened?: boolean;
}

export interface CatalogEntry {
  id: string;
  label: string;
  /** One sentence for the picker. */
  description: string;
  format: 'onnx' | 'llama2c';
  /** Hugging Face repository with the weights (and, for ONNX models, config and tokenizer files). */
  repo: string;
  /** llama2.c tokenizer, which stories15M and larger share with llama2.c's own repository. */
  tokenizer?: HostedFile;
  /** Computed from the config shapes, tied embeddings counted once; null for an entry read from a config alone. */
  parameters: number | null;
  nLayers: number;
  nKvHeads: number;
  headDim: number;
  hiddenSize: number;
  vocabSize: number;
  /** Positions the model was trained on; sinks plus window must stay within it. */
  trainedContext: number;
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

function story(id: string, label: string, description: string, shape: { dim: number; nLayers: number; nHeads: number; nKvHeads: number; vocabSize: number; seqLen: number }, parameters: number, file: string, downloadBytes: number, tokenizer: HostedFile): CatalogEntry {
  const { dim, nLayers, nHeads, nKvHeads, vocabSize, seqLen } = shape;
  return {
    id,
    label,
    description,
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
    description: 'Alibaba\'s smallest Qwen3 chat model; it thinks aloud before answering unless told not to.',
    format: 'onnx',
    repo: 'onnx-community/Qwen3-0.6B-ONNX',
    parameters: 596_049_920,
    nLayers: 28,
    nKvHeads: 8,
    headDim: 128,
    hiddenSize: 1024,
    vocabSize: 151_936,
    trainedContext: 32_768,
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
    description: 'A small multilingual chat model from Alibaba, good at short answers and simple code.',
    format: 'onnx',
    repo: 'onnx-community/Qwen2.5-0.5B-Instruct-ONNX-GQA',
    parameters: 494_032_768,
    nLayers: 24,
    nKvHeads: 2,
    headDim: 64,
    hiddenSize: 896,
    vocabSize: 151_936,
    trainedContext: 32_768,
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
    description: 'Hugging Face\'s tiny chat model: quick on any GPU, limited in what it knows.',
    format: 'onnx',
    repo: 'onnx-community/SmolLM2-135M-Instruct-ONNX-GQA',
    parameters: 134_515_008,
    nLayers: 30,
    nKvHeads: 3,
    headDim: 64,
    hiddenSize: 576,
    vocabSize: 49_152,
    trainedContext: 8192,
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
    description: 'Meta\'s 1B chat model, the most capable here; without shader-f16 its f16 weights are widened to f32 at load.',
    format: 'onnx',
    repo: 'onnx-community/Llama-3.2-1B-Instruct-q4f16',
    parameters: 1_235_814_400,
    nLayers: 16,
    nKvHeads: 8,
    headDim: 64,
    hiddenSize: 2048,
    vocabSize: 128_256,
    trainedContext: 131_072,
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
  story('stories260k', 'stories260K', "Karpathy's 260K-parameter llama2.c model, trained on children's stories: it continues the story you start.", { dim: 64, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512 }, 260_000, 'stories260K/stories260K.bin', 1_056_540, {
    host: 'huggingface',
    repo: 'karpathy/tinyllamas',
    revision: 'main',
    path: 'stories260K/tok512.bin',
  }),
  story('stories15m', 'stories15M', "Karpathy's 15M-parameter llama2.c story model: longer, more coherent stories.", { dim: 288, nLayers: 6, nHeads: 6, nKvHeads: 6, vocabSize: 32_000, seqLen: 256 }, 15_000_000, 'stories15M.bin', 60_816_028, STORY_TOKENIZER),
  story('stories42m', 'stories42M', "Karpathy's 42M-parameter llama2.c story model.", { dim: 512, nLayers: 8, nHeads: 8, nKvHeads: 8, vocabSize: 32_000, seqLen: 1024 }, 42_000_000, 'stories42M.bin', 167_020_572, STORY_TOKENIZER),
  story('stories110m', 'stories110M', "Karpathy's 110M-parameter llama2.c story model, the largest of them.", { dim: 768, nLayers: 12, nHeads: 12, nKvHeads: 12, vocabSize: 32_000, seqLen: 1024 }, 110_000_000, 'stories110M.bin', 438_381_596, STORY_TOKENIZER),
];

/** The fields of a Hugging Face config.json that size the KV cache and the token embedding. */
export interface ShapeConfig {
  hidden_size?: number;
  num_attention_heads?: number;
  num_key_value_heads?: number;
  num_hidden_layers?: number;
  head_dim?: number;
  vocab_size?: number;
  max_position_embeddings?: number;
}

export interface ListedFile {
  path: string;
  size: number;
}

/** Decoder graphs as onnx-community and optimum name them, by weight format. */
const DECODER_FILE = /^(?:onnx\/)?(model|decoder_model_merged|decoder_model)(?:_(fp16|q4|q4f16))?\.onnx$/;
const DTYPE_OF_SUFFIX: Record<string, WeightDtype> = { '': 'fp32', fp16: 'fp16', q4: 'q4', q4f16: 'q4f16' };
/** Window of a model known only from its config, before the memory budget cuts it. */
const TYPED_DEFAULT_WINDOW = 2044;

/**
 * The decoder files of a repository listing as variants (the graph plus its external data), plain
 * "model" exports before optimum's decoder_model forms so that chooseVariant prefers them.
 * Other formats (int8, uint8, bnb4) are left out: their quantized ops are not supported.
 */
export function onnxVariantsOf(files: readonly ListedFile[], vocabSize: number, hiddenSize: number): ModelVariant[] {
  const found = files.flatMap((file) => {
    const match = DECODER_FILE.exec(file.path);
    if (!match) return [];
    const downloadBytes = files.filter((f) => f === file || isOnnxExternalData(file.path, f.path)).reduce((sum, f) => sum + f.size, 0);
    return [{ plain: match[1] === 'model', variant: onnxVariant(DTYPE_OF_SUFFIX[match[2] ?? ''], file.path, downloadBytes, vocabSize, hiddenSize) }];
  });
  return found.sort((a, b) => Number(b.plain) - Number(a.plain)).map((f) => f.variant);
}

/**
 * An entry for a hub repository the user typed in, from its file listing and config.json: the
 * same arithmetic then sizes its window and picks its variant. Refuses with MODEL_UNSUPPORTED when
 * the repository holds no ONNX decoder this runtime can read, or its config lacks the shapes.
 */
export function entryFromHub(repo: string, files: readonly ListedFile[], config: ShapeConfig): CatalogEntry {
  const { hidden_size: hiddenSize, num_attention_heads: nHeads, num_hidden_layers: nLayers, vocab_size: vocabSize } = config;
  const positive = (n: number | undefined): n is number => Number.isInteger(n) && n! > 0;
  if (!positive(hiddenSize) || !positive(nHeads) || !positive(nLayers) || !positive(vocabSize)) {
    throw new EngineError(
      'MODEL_UNSUPPORTED',
      `The config.json of ${repo} does not state hidden_size, num_attention_heads, num_hidden_layers and vocab_size, so it is not a decoder this app can size. Pick a text-generation model.`,
    );
  }
  const variants = onnxVariantsOf(files, vocabSize, hiddenSize);
  if (variants.length === 0) {
    const onnx = files.filter((f) => f.path.endsWith('.onnx')).map((f) => f.path);
    throw new EngineError(
      'MODEL_UNSUPPORTED',
      `${repo} has no ONNX decoder this app can run (onnx/model.onnx, model_fp16.onnx, model_q4.onnx or model_q4f16.onnx); ` +
        (onnx.length > 0 ? `it holds ${onnx.join(', ')}.` : 'it holds no .onnx file at all.') +
        ' Look for an ONNX export of the model, often under onnx-community.',
    );
  }
  const trainedContext = positive(config.max_position_embeddings) ? config.max_position_embeddings : TYPED_DEFAULT_WINDOW + 4;
  return {
    id: repo,
    label: repo,
    description: `Typed in: ${variants.length} ONNX decoder file${variants.length === 1 ? '' : 's'} on the hub.`,
    format: 'onnx',
    repo,
    parameters: null,
    nLayers,
    nKvHeads: positive(config.num_key_value_heads) ? config.num_key_value_heads : nHeads,
    headDim: positive(config.head_dim) ? config.head_dim : hiddenSize / nHeads,
    hiddenSize,
    vocabSize,
    trainedContext,
    defaultSinks: 4,
    defaultWindow: Math.min(TYPED_DEFAULT_WINDOW, trainedContext - 4),
    hasChatTemplate: files.some((f) => f.path === 'chat_template.jinja'),
    variants,
    unverified: ['Whether the graph is one this runtime can split is known only once it is downloaded.'],
  };
}

/** Where a browser fetches a hosted file; both hosts answer cross-origin requests. */
export function hostedFileUrl(file: HostedFile): string {
  return file.host === 'huggingface'
    ? `https://huggingface.co/${file.repo}/resolve/${file.revision}/${file.path}`
    : `https://raw.githubusercontent.com/${file.repo}/${file.revision}/${file.path}`;
}

/**
 * onnxruntime's GroupQueryAttention takes head sizes in multiples of 16, so GQA exports (this
 * project's exporter among them: stories260K's 8-dim heads become 16) hold their heads padded to
 * it, and so does the cache. For other graphs a narrower head would be overcounted: the safe side.
 */
const KV_HEAD_MULTIPLE = 16;

/** K and V elements of one token in every layer, whatever the cache's dtype: nLayers x nKvHeads x head dim (padded) x 2. */
export function kvElementsPerToken(entry: CatalogEntry): number {
  const headDim = Math.ceil(entry.headDim / KV_HEAD_MULTIPLE) * KV_HEAD_MULTIPLE;
  return entry.nLayers * entry.nKvHeads * headDim * 2;
}

/** The dtype a model's cache starts in: f16 for the chat models, f32 for the story models (protocol/cache.ts says why). */
export const defaultCacheDtype = (entry: Pick<CatalogEntry, 'format'>): CacheDtype => (entry.format === 'llama2c' ? STORY_KV_CACHE_DTYPE : KV_CACHE_DTYPE);

/** K and V bytes of one token in every layer, in the cache's dtype (by default the one the model starts in). */
export const kvBytesPerToken = (entry: CatalogEntry, cacheDtype: CacheDtype = defaultCacheDtype(entry)): number => kvElementsPerToken(entry) * FLOAT_BYTES[cacheDtype];

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
  const window = Math.min(windowInBudget(budgetBytes, perToken, sinks, extraSlots), entry.trainedContext - sinks);
  if (window < MIN_WINDOW) {
    throw new EngineError(
      'DEVICE_LIMIT',
      `${entry.label} needs ${formatBytes((sinks + MIN_WINDOW + extraSlots) * perToken)} of GPU memory for even a ${MIN_WINDOW}-token window, ` +
        `but only ${formatBytes(budgetBytes)} is available for its cache. Close other tabs that use the GPU, or choose a smaller model.`,
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

const F16_DTYPES: ReadonlySet<WeightDtype> = new Set(['q4f16', 'fp16']);

/**
 * An f16 variant as it runs on a GPU without shader-f16: widened to f32 at load, so its f16 tensors
 * (all weights of fp16; the embedding, scales and norms of q4f16, of which the embedding counts)
 * take twice their bytes.
 */
function widenedVariant(v: ModelVariant): ModelVariant {
  const f16Bytes = v.dtype === 'fp16' ? v.weightBytes : v.largestTensorBytes;
  return { ...v, weightBytes: v.weightBytes + f16Bytes, largestTensorBytes: 2 * v.largestTensorBytes, widened: true };
}

/**
 * The variant to load: the smallest f16 one when the device has shader-f16, else q4, else fp32,
 * else an f16 one widened to f32 (Llama 3.2 1B is published only as q4f16); among those, the first
 * whose largest tensor fits in one buffer. Refuses with DEVICE_LIMIT when none fits.
 */
export function chooseVariant(entry: CatalogEntry, device: DeviceCaps): ModelVariant {
  const order: WeightDtype[] = device.hasShaderF16 ? ['q4f16', 'fp16', 'q4', 'fp32'] : ['q4', 'fp32', 'q4f16', 'fp16'];
  const usable = order.flatMap((dtype) => entry.variants.filter((v) => v.dtype === dtype)).map((v) => (!device.hasShaderF16 && F16_DTYPES.has(v.dtype) ? widenedVariant(v) : v));
  const limit = Math.min(device.maxBufferSize, device.maxStorageBufferBindingSize);
  const fitting = usable.find((v) => v.largestTensorBytes <= limit);
  if (fitting) return fitting;
  const smallest = usable.reduce((a, b) => (b.largestTensorBytes < a.largestTensorBytes ? b : a));
  const f16Fits = !device.hasShaderF16 && entry.variants.some((v) => F16_DTYPES.has(v.dtype) && v.largestTensorBytes <= limit);
  throw new EngineError(
    'DEVICE_LIMIT',
    `The largest tensor of ${entry.label} (${formatBytes(smallest.largestTensorBytes)} in its ${smallest.dtype} weights${smallest.widened ? ' widened to f32' : ''}) is larger than this GPU allows ` +
      `in one buffer (${formatBytes(limit)}).` +
      (f16Fits ? ' Its f16 weights would fit as they are on a GPU with shader-f16, which this GPU or browser does not offer.' : '') +
      ' Choose a smaller model.',
  );
}

/**
 * The catalog chat model to suggest for this GPU: among the entries with a chat template, the one
 * with the most parameters whose variant this device runs (chooseVariant) and whose weights, cache
 * and activations (estimateVram at `windowOf(entry)`) fit `vramBudgetBytes`; null when none does.
 */
export function recommendedEntry(
  device: DeviceCaps,
  vramBudgetBytes: number,
  windowOf: (entry: CatalogEntry) => { window: number; shape: CacheShape },
  entries: readonly CatalogEntry[] = MODEL_CATALOG,
): { entry: CatalogEntry; variant: ModelVariant; vram: VramEstimate } | null {
  let best: { entry: CatalogEntry; variant: ModelVariant; vram: VramEstimate } | null = null;
  for (const entry of entries) {
    if (!entry.hasChatTemplate) continue;
    let variant: ModelVariant;
    let sized: { window: number; shape: CacheShape };
    try {
      variant = chooseVariant(entry, device);
      sized = windowOf(entry);
    } catch {
      continue; // no variant or no window fits this device
    }
    const vram = estimateVram(entry, variant, sized.window, sized.shape);
    if (vram.total > vramBudgetBytes) continue;
    // Weights that run as published beat widened ones (twice the f16 bytes, slower), then size.
    const rank = (c: { entry: CatalogEntry; variant: ModelVariant }) => [c.variant.widened ? 0 : 1, c.entry.parameters ?? 0];
    const [[w, p], [bw, bp]] = [rank({ entry, variant }), best ? rank(best) : [-1, -1]];
    if (w > bw || (w === bw && p > bp)) best = { entry, variant, vram };
  }
  return best;
}
