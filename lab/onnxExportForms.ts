// The llama2.c exporter's other forms, which only the test fixtures, the benchmarks and the export
// command need; the app ships the plain builder form alone (src/engine/llama2c/onnxExport.ts), and
// these are composed from its pieces.
//
// 'gqa' variants of the builder form: RotaryEmbedding nodes fed by a position_ids input before
// GroupQueryAttention (older builds), and Qwen3's per-head q/k norm.
//
// 'unfused': the older optimum/TorchScript form of Llama-family models (the first onnx-community
// SmolLM2, Qwen2.5 and Llama-3.2 exports): decomposed RMSNorm, per-head Reshape/Transpose with
// shapes read from the tensors, RoPE in Mul/Slice/Neg/Concat nodes with cos/sin gathered by
// position_ids and rotate_half's split at shape[-1] // 2, past KV Concat, repeat-kv
// Unsqueeze/Expand/Reshape, torch.onnx's scaled_dot_product_attention (q and k^T each scaled by
// sqrt(1/sqrt(head_dim)), a mask added, Softmax, MatMul) with a causal mask built from
// attention_mask. No GQA op, so heads keep their size.
//
// Either form may store every projection (and lm_head) as MatMulNBits 4-bit blocks, keep its
// weights in the model or in chunked external data files, and normalise q and k per head
// (Qwen3's q_norm/k_norm, with unit weights: the llama2.c model has none of its own).

import type { onnx } from 'onnx-proto';
import { EngineError } from '../src/protocol/errors.ts';
import { headDimOf, LLAMA2C_RMS_NORM_EPS, type Llama2cConfig, type Llama2cWeights } from '../src/engine/llama2c/llama2c.ts';
import {
  buildGqaDecoder,
  builderWeightPrefix,
  headPaddedProjection,
  layerSlice,
  lmHead,
  matMulProjection,
  mlp,
  oProjPadded,
  paddedHeadDim,
  paddedSlot,
  rotaryCaches,
  withKvIo,
  type ExportContext,
  type Projector,
} from '../src/engine/llama2c/onnxExport.ts';
import {
  attrFloat,
  attrInt,
  attrInts,
  bytesOf,
  DataType,
  embeddedTensor,
  GraphBuilder,
  proto,
  valueInfo,
  type GraphIo,
  type GraphTensor,
} from '../src/engine/llama2c/onnxGraph.ts';

/** 'fused': GroupQueryAttention rotates q/k (do_rotary=1, builder default since genai PR #1847).
 *  'separate': RotaryEmbedding nodes fed by a position_ids input rotate q/k before GQA (older builds). */
export type RotaryPlacement = 'fused' | 'separate';

/** 'gqa': GroupQueryAttention (builder form); 'unfused': MatMul/Softmax attention (optimum form). */
export type AttentionForm = 'gqa' | 'unfused';

/** 'q4': projections and lm_head as com.microsoft MatMulNBits, 4 bits in blocks of 32 along K. */
export type WeightFormat = 'f32' | 'q4';

export interface OnnxExportOptions {
  attention?: AttentionForm;
  /** Where GroupQueryAttention's rotary embedding happens; ignored by the unfused form. */
  rotary?: RotaryPlacement;
  weights?: WeightFormat;
  /** RMSNorm over each head of q and k before RoPE, as Qwen3 does. */
  qkNorm?: boolean;
  /** Store every weight in side files instead of in the model's raw_data (the few int64 graph
   *  constants stay embedded: onnxruntime refuses them as external data). With chunkBytes, files
   *  `location`, `location_1`, ... each hold whole tensors up to that size, as transformers.js
   *  names them; a larger tensor gets a file of its own. */
  externalData?: { location: string; chunkBytes?: number };
  /** Rows (positions) of the baked cos/sin caches; default the checkpoint's seq_len. Benchmarks
   *  that run onnxruntime's own attention past seq_len need more. */
  rotaryRows?: number;
}

export interface ExternalDataFile {
  location: string;
  bytes: Uint8Array;
}

export interface OnnxExport {
  model: Uint8Array;
  /** Every external data file, in order; empty when the weights are embedded. */
  externalFiles: ExternalDataFile[];
}

// Side-file tensors start on 64-byte boundaries so that any typed view over them is aligned.
const EXTERNAL_ALIGNMENT = 64;
/** MatMulNBits block: 32 weights along K share a scale and a zero point (onnxruntime's default for q4 exports). */
const Q4_BLOCK = 32;
/** torch.finfo(float32).min: what Hugging Face models add to masked attention scores. */
const MASKED_SCORE = -3.4028234663852886e38;
const INT64_MAX = 9223372036854775807n;

/** A llama2.c model in any of the forms; with no options, the app's own conversion. */
export function exportLlama2cForm(weights: Llama2cWeights, options: OnnxExportOptions = {}): OnnxExport {
  const rows = options.rotaryRows ?? weights.config.seqLen;
  if (!Number.isInteger(rows) || rows < 1) throw new EngineError('CONFIG_INVALID', `The rotary cache needs a whole number of rows, not ${rows}.`);
  // Only the cos/sin caches read seqLen when building the graph.
  const withRows = { ...weights, config: { ...weights.config, seqLen: rows } };
  const g = new GraphBuilder();
  const context: ExportContext = { g, weights: withRows, project: options.weights === 'q4' ? q4Projection(g) : matMulProjection(g) };
  const qkNorm = options.qkNorm ?? false;
  const io = options.attention === 'unfused' ? buildUnfusedDecoder(context, qkNorm) : buildBuilderVariant(context, options.rotary ?? 'fused', qkNorm);
  if (!options.externalData) return { model: g.encode(io), externalFiles: [] };
  const { initializer, files } = externalInitializers(g.tensors, options.externalData);
  return { model: g.encode(io, initializer), externalFiles: files };
}

/** The builder form with separate rotary nodes or Qwen3's q/k norm, in the order the builder adds them. */
function buildBuilderVariant(context: ExportContext, rotary: RotaryPlacement, qkNorm: boolean): GraphIo {
  const { g } = context;
  const { nHeads, nKvHeads } = context.weights.config;
  const headDim = headDimOf(context.weights.config);
  const padded = paddedHeadDim(headDim);
  const qk = (layer: number, q: string, k: string): [string, string] => {
    const scope = `/model/layers.${layer}/attn`;
    const prefix = `model.layers.${layer}.attn`;
    if (qkNorm) {
      // As the builder's make_qk_norm: (batch, seq * heads, padded) -> norm -> back to (batch, seq, heads * padded).
      q = builderQkNorm(g, `${scope}/q_norm`, `${prefix}.q_norm.layernorm.weight`, q, nHeads, headDim, padded);
      k = builderQkNorm(g, `${scope}/k_norm`, `${prefix}.k_norm.layernorm.weight`, k, nKvHeads, headDim, padded);
    }
    if (rotary === 'separate') {
      q = rotaryEmbedding(g, `${scope}/q_rotary/RotaryEmbedding`, q, nHeads, padded);
      k = rotaryEmbedding(g, `${scope}/k_rotary/RotaryEmbedding`, k, nKvHeads, padded);
    }
    return [q, k];
  };
  const io = buildGqaDecoder(context, { qk, doRotary: rotary === 'fused' });
  // The rotary nodes read positions, listed after input_ids and attention_mask as the builder does.
  if (rotary === 'separate') io.inputs.splice(2, 0, valueInfo('position_ids', DataType.INT64, ['batch_size', 'sequence_length']));
  return io;
}

/**
 * Qwen3's per-head RMSNorm in the builder's form, over padded heads. The mean then runs over
 * `padded` dims of which headDim are the model's, so epsilon and the unit weight are scaled by
 * headDim/padded and its root: x / sqrt(sum/padded + eps*d/P) * sqrt(d/P) = x / sqrt(sum/d + eps).
 */
function builderQkNorm(g: GraphBuilder, scope: string, weightName: string, x: string, heads: number, headDim: number, padded: number): string {
  const ratio = headDim / padded;
  const weight = new Float32Array(padded);
  for (let c = 0; c < headDim; c++) weight[paddedSlot(c, headDim, padded)] = Math.sqrt(ratio);
  const perHead = g.node('Reshape', `${scope}/Reshape_1`, [x, g.int64(`/model/constants/INT64/[0, -1, ${padded}]`, [3], [0, -1, padded])]);
  const normed = g.node(
    'SimplifiedLayerNormalization',
    `${scope}/SimplifiedLayerNormalization`,
    [perHead, g.float32(weightName, [padded], weight)],
    [attrInt('axis', -1), attrFloat('epsilon', LLAMA2C_RMS_NORM_EPS * ratio), attrInt('stash_type', 1)],
  ); // (batch, seq * heads, padded)
  const width = heads * padded;
  return g.node('Reshape', `${scope}/Reshape_2`, [normed, g.int64(`/model/constants/INT64/[0, -1, ${width}]`, [3], [0, -1, width])]);
}

function rotaryEmbedding(g: GraphBuilder, name: string, x: string, numHeads: number, padded: number): string {
  // x: (batch, seq, numHeads * padded). A 3-D input needs num_heads to find the head size;
  // rotary_embedding_dim in turn requires num_heads (onnxruntime's RotaryEmbedding checks).
  return g.node(
    'RotaryEmbedding',
    name,
    [x, 'position_ids', 'cos_cache', 'sin_cache'],
    [attrInt('interleaved', 0), attrInt('num_heads', numHeads), attrInt('rotary_embedding_dim', padded)],
    'com.microsoft',
  );
}

/** The optimum/TorchScript form: everything attention does spelled out in plain ONNX ops. */
function buildUnfusedDecoder(context: ExportContext, qkNorm: boolean): GraphIo {
  const { g, weights, project } = context;
  const { config } = weights;
  const headDim = headDimOf(config);
  const { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize } = config;
  const kvDim = nKvHeads * headDim;
  const group = nHeads / nKvHeads;

  const zero = g.int64('/model/constants/INT64/0', [], [0]);
  const one = g.int64('/model/constants/INT64/1', [], [1]);
  const axis1 = g.int64('/model/constants/INT64/[1]', [1], [1]);

  // Causal + padding mask (batch, 1, seq, total): 0 where key j <= past + i and attention_mask[j] = 1,
  // float32 min elsewhere.
  const mask = '/model/attn_mask';
  const seqLen = g.node('Gather', `${mask}/Gather`, [g.node('Shape', `${mask}/Shape`, ['input_ids']), one], [attrInt('axis', 0)]); // () i64
  const total = g.node('Gather', `${mask}/Gather_1`, [g.node('Shape', `${mask}/Shape_1`, ['attention_mask']), one], [attrInt('axis', 0)]); // () i64
  const pastLen = g.node('Sub', `${mask}/Sub`, [total, seqLen]);
  const keyPos = g.node('Range', `${mask}/Range`, [zero, total, one]); // (total)
  const queryPos = g.node('Unsqueeze', `${mask}/Unsqueeze`, [g.node('Range', `${mask}/Range_1`, [pastLen, total, one]), axis1]); // (seq, 1)
  const causal = g.node('LessOrEqual', `${mask}/LessOrEqual`, [keyPos, queryPos]); // (seq, total) bool
  const present = g.node('Cast', `${mask}/Cast`, ['attention_mask'], [attrInt('to', DataType.BOOL)]); // (batch, total)
  const present4 = g.node('Unsqueeze', `${mask}/Unsqueeze_1`, [present, g.int64('/model/constants/INT64/[1, 2]', [2], [1, 2])]);
  const allowed = g.node('And', `${mask}/And`, [causal, present4]); // (batch, 1, seq, total)
  const scoreBias = g.node('Where', `${mask}/Where`, [allowed, scalar(g, '/model/constants/FLOAT/0', 0), scalar(g, '/model/constants/FLOAT/min', MASKED_SCORE)]);

  // cos/sin (batch, 1, seq, headDim) for Hugging Face's emb = cat(freqs, freqs).
  const { cos, sin } = huggingFaceRotary(config);
  const rotaryTable = (name: 'cos' | 'sin', values: Float32Array) => {
    const table = g.float32(`model.rotary_emb.${name}_cached`, [config.seqLen, headDim], values);
    const gathered = g.node('Gather', `/model/rotary_emb/Gather_${name}`, [table, 'position_ids']); // (batch, seq, headDim)
    return g.node('Unsqueeze', `/model/rotary_emb/Unsqueeze_${name}`, [gathered, axis1]);
  };
  const cosHeads = rotaryTable('cos', cos);
  const sinHeads = rotaryTable('sin', sin);

  const perm0213 = attrInts('perm', [0, 2, 1, 3]);

  const embedding = g.float32('model.embed_tokens.weight', [vocabSize, dim], weights.tokenEmbedding);
  let residual = g.node('Gather', '/model/embed_tokens/Gather', [embedding, 'input_ids']); // (batch, seq, dim)

  for (let layer = 0; layer < nLayers; layer++) {
    const scope = `/model/layers.${layer}`;
    const attn = `${scope}/self_attn`;
    const prefix = `model.layers.${layer}`;
    const slice = layerSlice(layer);

    const normed = rmsNorm(g, `${scope}/input_layernorm`, residual, g.float32(`${prefix}.input_layernorm.weight`, [dim], slice(weights.rmsAtt, 1, dim)));
    const wq = headPaddedProjection(slice(weights.wq, dim, dim), nHeads, headDim, headDim, dim, true);
    const wk = headPaddedProjection(slice(weights.wk, kvDim, dim), nKvHeads, headDim, headDim, dim, true);
    const wv = headPaddedProjection(slice(weights.wv, kvDim, dim), nKvHeads, headDim, headDim, dim, false);
    const q = project(`${attn}/q_proj`, normed, dim, nHeads * headDim, wq); // (batch, seq, nHeads * headDim)
    const k = project(`${attn}/k_proj`, normed, dim, kvDim, wk); // (batch, seq, nKvHeads * headDim)
    const v = project(`${attn}/v_proj`, normed, dim, kvDim, wv);

    /** (batch, seq, heads * headDim) -> (batch, heads, seq, headDim), with Qwen3's per-head norm when asked. */
    const toHeads = (x: string, heads: number, name: 'q' | 'k' | 'v', index: number) => {
      const suffix = index ? `_${index}` : '';
      // TorchScript's view(bsz, q_len, heads, head_dim): batch and length read from x's shape.
      const shape = g.node('Concat', `${attn}/Concat${suffix}`, [
        dimOf(g, `${attn}/batch${suffix}`, x, 0),
        dimOf(g, `${attn}/length${suffix}`, x, 1),
        g.int64(`/model/constants/INT64/[${heads}]`, [1], [heads]),
        g.int64(`/model/constants/INT64/[${headDim}]`, [1], [headDim]),
      ], [attrInt('axis', 0)]);
      let split = g.node('Reshape', `${attn}/Reshape${suffix}`, [x, shape]); // (batch, seq, heads, headDim)
      if (qkNorm && name !== 'v') {
        const weight = g.float32(`${prefix}.self_attn.${name}_norm.weight`, [headDim], new Float32Array(headDim).fill(1));
        split = g.node(
          'SimplifiedLayerNormalization',
          `${attn}/${name}_norm/SimplifiedLayerNormalization`,
          [split, weight],
          [attrInt('axis', -1), attrFloat('epsilon', LLAMA2C_RMS_NORM_EPS), attrInt('stash_type', 1)],
        );
      }
      return g.node('Transpose', `${attn}/Transpose${index ? `_${index}` : ''}`, [split], [perm0213]);
    };
    const qHeads = rope(g, `${attn}/q_rope`, toHeads(q, nHeads, 'q', 0), cosHeads, sinHeads); // (batch, nHeads, seq, headDim)
    const kHeads = rope(g, `${attn}/k_rope`, toHeads(k, nKvHeads, 'k', 1), cosHeads, sinHeads); // (batch, nKvHeads, seq, headDim)
    const vHeads = toHeads(v, nKvHeads, 'v', 2);

    // The cache grows by concatenation; its output is the graph's present.* output.
    const keys = g.node('Concat', `${attn}/Concat_k`, [`past_key_values.${layer}.key`, kHeads], [attrInt('axis', 2)], '', [`present.${layer}.key`]);
    const values = g.node('Concat', `${attn}/Concat_v`, [`past_key_values.${layer}.value`, vHeads], [attrInt('axis', 2)], '', [`present.${layer}.value`]);
    const keysRepeated = repeatKv(g, `${attn}/repeat_kv_k`, keys, nHeads, headDim, group); // (batch, nHeads, total, headDim)
    const valuesRepeated = repeatKv(g, `${attn}/repeat_kv_v`, values, nHeads, headDim, group);

    // torch.onnx's scaled_dot_product_attention: q and k^T each times sqrt(1/sqrt(head_dim)), the
    // head size read from q's shape.
    const headSize = g.node('Cast', `${attn}/Cast`, [g.node('Slice', `${attn}/Slice`, [
      g.node('Shape', `${attn}/Shape`, [qHeads]),
      g.int64('/model/constants/INT64/[-1]', [1], [-1]),
      g.int64('/model/constants/INT64/[INT64_MAX]', [1], [INT64_MAX]),
    ])], [attrInt('to', DataType.FLOAT)]); // (1) f32
    const scale = g.node('Div', `${attn}/Div`, [scalar(g, '/model/constants/FLOAT/1', 1), g.node('Sqrt', `${attn}/Sqrt`, [headSize])]);
    const rootScale = g.node('Sqrt', `${attn}/Sqrt_1`, [scale]);
    const keysT = g.node('Transpose', `${attn}/Transpose_3`, [keysRepeated], [attrInts('perm', [0, 1, 3, 2])]); // (batch, nHeads, headDim, total)
    const scores = g.node('MatMul', `${attn}/MatMul`, [
      g.node('Mul', `${attn}/Mul`, [qHeads, rootScale]),
      g.node('Mul', `${attn}/Mul_1`, [keysT, rootScale]),
    ]); // (batch, nHeads, seq, total)
    const masked = g.node('Add', `${attn}/Add`, [scores, scoreBias]);
    const probs = g.node('Softmax', `${attn}/Softmax`, [masked], [attrInt('axis', -1)]);
    const context4 = g.node('MatMul', `${attn}/MatMul_1`, [probs, valuesRepeated]); // (batch, nHeads, seq, headDim)
    const merged = g.node('Reshape', `${attn}/Reshape_3`, [
      g.node('Transpose', `${attn}/Transpose_4`, [context4], [perm0213]),
      g.int64(`/model/constants/INT64/[0, 0, ${nHeads * headDim}]`, [3], [0, 0, nHeads * headDim]),
    ]); // (batch, seq, nHeads * headDim)
    const wo = oProjPadded(slice(weights.wo, dim, dim), nHeads, headDim, headDim, dim);
    residual = g.node('Add', `${scope}/Add`, [residual, project(`${attn}/o_proj`, merged, nHeads * headDim, dim, wo)]);

    const postNormed = rmsNorm(
      g,
      `${scope}/post_attention_layernorm`,
      residual,
      g.float32(`${prefix}.post_attention_layernorm.weight`, [dim], slice(weights.rmsFfn, 1, dim)),
    );
    residual = g.node('Add', `${scope}/Add_1`, [residual, mlp(context, layer, `${scope}/mlp`, postNormed, hiddenDim)]);
  }

  lmHead(context, rmsNorm(g, '/model/norm', residual, g.float32('model.norm.weight', [dim], weights.rmsFinal)));

  const inputs = [
    valueInfo('input_ids', DataType.INT64, ['batch_size', 'sequence_length']),
    valueInfo('attention_mask', DataType.INT64, ['batch_size', 'total_sequence_length']),
    valueInfo('position_ids', DataType.INT64, ['batch_size', 'sequence_length']),
  ];
  return withKvIo(inputs, config, headDim);
}

/** Hugging Face's cos/sin tables (seqLen, headDim) = cat(freqs, freqs): each row of the builder's caches twice. */
function huggingFaceRotary(config: Llama2cConfig): { cos: Float32Array; sin: Float32Array } {
  const headDim = headDimOf(config);
  const half = headDim / 2;
  const { cos, sin } = rotaryCaches(config, headDim); // (seqLen, half)
  const twice = (table: Float32Array) => {
    const out = new Float32Array(config.seqLen * headDim);
    for (let pos = 0; pos < config.seqLen; pos++) {
      const row = table.subarray(pos * half, (pos + 1) * half);
      out.set(row, pos * headDim);
      out.set(row, pos * headDim + half);
    }
    return out;
  };
  return { cos: twice(cos), sin: twice(sin) };
}

/** LlamaRMSNorm as TorchScript exports it: weight * (x * 1 / sqrt(mean(x^2) + eps)). */
function rmsNorm(g: GraphBuilder, scope: string, x: string, weight: string): string {
  const squared = g.node('Pow', `${scope}/Pow`, [x, scalar(g, '/model/constants/FLOAT/2', 2)]);
  const mean = g.node('ReduceMean', `${scope}/ReduceMean`, [squared], [attrInts('axes', [-1]), attrInt('keepdims', 1)]); // (batch, seq, 1)
  const std = g.node('Sqrt', `${scope}/Sqrt`, [g.node('Add', `${scope}/Add`, [mean, scalar(g, '/model/constants/FLOAT/eps', LLAMA2C_RMS_NORM_EPS)])]);
  const inverse = g.node('Div', `${scope}/Div`, [scalar(g, '/model/constants/FLOAT/1', 1), std]);
  return g.node('Mul', `${scope}/Mul_1`, [weight, g.node('Mul', `${scope}/Mul`, [x, inverse])]);
}

/** Hugging Face's apply_rotary_pos_emb on x (batch, heads, seq, headDim): x * cos + rotate_half(x) * sin,
 *  with rotate_half's split point x.shape[-1] // 2 computed from x's shape, as TorchScript traces it. */
function rope(g: GraphBuilder, scope: string, x: string, cos: string, sin: string): string {
  const last = g.int64('/model/constants/INT64/[-1]', [1], [-1]);
  const lastDim = g.node('Gather', `${scope}/Gather`, [g.node('Shape', `${scope}/Shape`, [x]), g.int64('/model/constants/INT64/-1', [], [-1])], [attrInt('axis', 0)]);
  const half = g.node('Unsqueeze', `${scope}/Unsqueeze`, [g.node('Div', `${scope}/Div`, [lastDim, g.int64('/model/constants/INT64/2', [], [2])]), g.int64('/model/constants/INT64/[0]', [1], [0])]);
  const first = g.node('Slice', `${scope}/Slice`, [x, g.int64('/model/constants/INT64/[0]', [1], [0]), half, last]);
  const second = g.node('Slice', `${scope}/Slice_1`, [x, half, g.int64('/model/constants/INT64/[INT64_MAX]', [1], [INT64_MAX]), last]);
  const rotated = g.node('Concat', `${scope}/Concat`, [g.node('Neg', `${scope}/Neg`, [second]), first], [attrInt('axis', -1)]);
  return g.node('Add', `${scope}/Add`, [g.node('Mul', `${scope}/Mul`, [x, cos]), g.node('Mul', `${scope}/Mul_1`, [rotated, sin])]);
}

/** x.shape[index] as a (1) int64 tensor, as TorchScript traces a size() call used in a view(). */
function dimOf(g: GraphBuilder, scope: string, x: string, index: number): string {
  const size = g.node('Gather', `${scope}/Gather`, [g.node('Shape', `${scope}/Shape`, [x]), g.int64(`/model/constants/INT64/${index}`, [], [index])], [attrInt('axis', 0)]);
  return g.node('Unsqueeze', `${scope}/Unsqueeze`, [size, g.int64('/model/constants/INT64/[0]', [1], [0])]);
}

/** Hugging Face's repeat_kv: (batch, kvHeads, len, d) -> (batch, kvHeads * group, len, d), KV head-major. */
function repeatKv(g: GraphBuilder, scope: string, x: string, nHeads: number, headDim: number, group: number): string {
  if (group === 1) return x;
  const unsqueezed = g.node('Unsqueeze', `${scope}/Unsqueeze`, [x, g.int64('/model/constants/INT64/[2]', [1], [2])]); // (batch, kvHeads, 1, len, d)
  const expanded = g.node('Expand', `${scope}/Expand`, [unsqueezed, g.int64(`/model/constants/INT64/[1, 1, ${group}, 1, 1]`, [5], [1, 1, group, 1, 1])]);
  return g.node('Reshape', `${scope}/Reshape`, [expanded, g.int64(`/model/constants/INT64/[0, ${nHeads}, -1, ${headDim}]`, [4], [0, nHeads, -1, headDim])]);
}

/** Projections as com.microsoft MatMulNBits, the weight quantized to 4-bit blocks (quantizeQ4). */
function q4Projection(g: GraphBuilder): Projector {
  return (scope, input, inDim, outDim, w, output) => {
    const base = builderWeightPrefix(scope);
    const q = quantizeQ4(w, inDim, outDim);
    const name = `${scope}/MatMulNBits`;
    return g.node(
      'MatMulNBits',
      name,
      [
        input,
        uint8(g, `${base}.MatMulNBits.weight_Q4`, [outDim, q.nBlocks, Q4_BLOCK / 2], q.packed),
        g.float32(`${base}.MatMulNBits.weight_scales`, [outDim * q.nBlocks], q.scales),
        uint8(g, `${base}.MatMulNBits.weight_zero_points`, [q.zeroPoints.length], q.zeroPoints),
      ],
      [attrInt('K', inDim), attrInt('N', outDim), attrInt('bits', 4), attrInt('block_size', Q4_BLOCK)],
      'com.microsoft',
      [output ?? `${name}/output_0`],
    );
  };
}

/**
 * 4-bit blocks of a (K, N) MatMul weight in MatMulNBits' layout, quantized as onnxruntime's
 * MatMul4BitsQuantizer does by default (asymmetric, MLAS's BlockwiseQuantizer in float32):
 * per column n and block b of 32 rows, scale = (max - min) / 15 over the block with 0 included,
 * zero point = round(-min / scale), q = clamp(round(w / scale + zp), 0, 15).
 *   packed:     (N, nBlocks, 16) u8, element k of a block in byte k/2, low nibble first;
 *               K is padded up to whole blocks with the zero point (weight 0)
 *   scales:     (N * nBlocks) f32
 *   zeroPoints: (N * ceil(nBlocks / 2)) u8, two blocks per byte, low nibble first; an unused
 *               high nibble holds 8, as MLAS leaves it
 */
export function quantizeQ4(w: Float32Array, K: number, N: number): { packed: Uint8Array; scales: Float32Array; zeroPoints: Uint8Array; nBlocks: number } {
  const f = Math.fround;
  const nBlocks = Math.ceil(K / Q4_BLOCK);
  const zpStride = Math.ceil(nBlocks / 2);
  const packed = new Uint8Array(N * nBlocks * (Q4_BLOCK / 2));
  const scales = new Float32Array(N * nBlocks);
  const zeroPoints = new Uint8Array(N * zpStride).fill(0x88);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < nBlocks; b++) {
      const k0 = b * Q4_BLOCK;
      const k1 = Math.min(K, k0 + Q4_BLOCK);
      let min = 0;
      let max = 0;
      for (let k = k0; k < k1; k++) {
        min = Math.min(min, w[k * N + n]);
        max = Math.max(max, w[k * N + n]);
      }
      const scale = f((max - min) / 15);
      const zpFloat = scale !== 0 ? f(0 - f(min / scale)) : min;
      const zp = zpFloat < 0 ? 0 : zpFloat > 15 ? 15 : Math.round(zpFloat);
      const reciprocal = scale !== 0 ? f(1 / scale) : 0;
      scales[n * nBlocks + b] = scale;
      const zpByte = n * zpStride + (b >> 1);
      zeroPoints[zpByte] = b & 1 ? (zeroPoints[zpByte] & 0x0f) | (zp << 4) : (zeroPoints[zpByte] & 0xf0) | zp;
      for (let i = 0; i < Q4_BLOCK; i++) {
        const k = k0 + i;
        const value = k < k1 ? Math.min(15, Math.max(0, Math.round(f(f(w[k * N + n] * reciprocal) + zp)))) : zp;
        const byte = (n * nBlocks + b) * (Q4_BLOCK / 2) + (i >> 1);
        packed[byte] |= i & 1 ? value << 4 : value;
      }
    }
  }
  return { packed, scales, zeroPoints, nBlocks };
}

/** Initializers with every weight pointing into side files `location`, `location_1`, ... */
function externalInitializers(
  tensors: readonly GraphTensor[],
  external: { location: string; chunkBytes?: number },
): { initializer: onnx.ITensorProto[]; files: ExternalDataFile[] } {
  const limit = external.chunkBytes ?? Infinity;
  // File and offset of every weight; a tensor never straddles two files.
  const placement = new Map<GraphTensor, { file: number; offset: number }>();
  const sizes: number[] = [0];
  for (const tensor of tensors) {
    if (!tensor.weight) continue;
    let file = sizes.length - 1;
    if (sizes[file] > 0 && sizes[file] + tensor.bytes.byteLength > limit) sizes[++file] = 0;
    placement.set(tensor, { file, offset: sizes[file] });
    sizes[file] = Math.ceil((sizes[file] + tensor.bytes.byteLength) / EXTERNAL_ALIGNMENT) * EXTERNAL_ALIGNMENT;
  }
  const files = sizes.map((size, i) => ({ location: i === 0 ? external.location : `${external.location}_${i}`, bytes: new Uint8Array(size) }));
  const initializer = tensors.map((tensor) => {
    const at = placement.get(tensor);
    if (!at) return embeddedTensor(tensor);
    files[at.file].bytes.set(tensor.bytes, at.offset);
    return {
      name: tensor.name,
      dataType: tensor.dataType,
      dims: tensor.dims,
      dataLocation: proto.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: files[at.file].location },
        { key: 'offset', value: String(at.offset) },
        { key: 'length', value: String(tensor.bytes.byteLength) },
      ],
    };
  });
  return { initializer, files };
}

/** A float graph constant (scale, epsilon, mask value): always embedded, like the int64 ones. */
function scalar(g: GraphBuilder, name: string, value: number): string {
  return g.tensor({ name, dataType: DataType.FLOAT, dims: [], bytes: bytesOf(Float32Array.of(value)), weight: false });
}

function uint8(g: GraphBuilder, name: string, dims: number[], data: Uint8Array): string {
  return g.tensor({ name, dataType: DataType.UINT8, dims, bytes: data, weight: true });
}
