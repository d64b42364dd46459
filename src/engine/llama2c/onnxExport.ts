// Converts a llama2.c checkpoint into the ONNX decoder the app loads like any hub model: the
// onnxruntime-genai model-builder form (builder node and tensor names,
// SkipSimplifiedLayerNormalization, GroupQueryAttention rotating q and k with its cos/sin caches),
// f32 weights inside the model; also writes the Hugging Face config.json that goes with it.
//
// onnxruntime 1.30's GroupQueryAttention refuses head sizes that are not a multiple of 16, so heads
// are padded: each head's two rotary halves sit at dims [0, half) and [P/2, P/2 + half) of a head
// of P dims, all other q/k/v rows and o_proj columns are zero, the cos/sin caches rotate the padded
// pairs by angle 0, and the attention scale stays 1/sqrt(headDim). The result is exactly the
// original model.
//
// The other structures the hub ships (unfused attention, separate rotary, 4-bit weights, Qwen3's
// q/k norm, external data) are exported only as test fixtures, by lab/onnxExportForms.ts from the
// pieces exported here.

import type { onnx } from 'onnx-proto';
import {
  LLAMA2C_BOS_ID,
  LLAMA2C_EOS_ID,
  LLAMA2C_RMS_NORM_EPS,
  LLAMA2C_ROPE_THETA,
  headDimOf,
  type Llama2cConfig,
  type Llama2cWeights,
} from './llama2c.ts';
import { attrFloat, attrInt, DataType, GraphBuilder, valueInfo, type GraphIo } from './onnxGraph.ts';

/** GroupQueryAttention's head-size granularity in onnxruntime 1.30. */
const GQA_HEAD_MULTIPLE = 16;

export function paddedHeadDim(headDim: number): number {
  return Math.ceil(headDim / GQA_HEAD_MULTIPLE) * GQA_HEAD_MULTIPLE;
}

/**
 * A projection x (.., inDim) @ w (inDim, outDim) under a builder scope such as
 * `/model/layers.0/attn/q_proj`, returning its output (named `output` when given).
 */
export type Projector = (scope: string, input: string, inDim: number, outDim: number, w: Float32Array, output?: string) => string;

/** Everything a layer builder needs. */
export interface ExportContext {
  g: GraphBuilder;
  weights: Llama2cWeights;
  /** How every projection (q/k/v/o, the MLP, lm_head) is stored. */
  project: Projector;
}

/**
 * Where a fixture's variant of the builder form differs (lab/onnxExportForms.ts); the app's
 * conversion takes the defaults.
 */
export interface GqaVariant {
  /** Nodes between the q/k projections and GroupQueryAttention; q and k are (batch, seq, heads * padded). */
  qk?: (layer: number, q: string, k: string) => [string, string];
  /** false when `qk` rotates q and k itself: GroupQueryAttention then takes no cos/sin caches. */
  doRotary?: boolean;
}

/** The model.onnx of a llama2.c checkpoint, as the app converts it. */
export function exportLlama2cToOnnx(weights: Llama2cWeights): Uint8Array {
  const g = new GraphBuilder();
  return g.encode(buildGqaDecoder({ g, weights, project: matMulProjection(g) }));
}

/** The builder form: skip norms, GroupQueryAttention over padded heads. */
export function buildGqaDecoder(context: ExportContext, variant: GqaVariant = {}): GraphIo {
  const { g, weights, project } = context;
  const { config } = weights;
  const { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize } = config;
  const headDim = headDimOf(config);
  const doRotary = variant.doRotary ?? true;
  const padded = paddedHeadDim(headDim);
  const kvDim = nKvHeads * headDim;

  // Mask reformatting, as the builder does it: seqlens_k = sum(mask) - 1, total = mask.shape[1].
  const maskScope = '/model/attn_mask_reformat/attn_mask_subgraph';
  const axisOne = g.int64('/model/constants/INT64/[1]', [1], [1]);
  const one = g.int64('/model/constants/INT64/1', [], [1]);
  const maskSum = g.node('ReduceSum', `${maskScope}/ReduceSum`, ['attention_mask', axisOne], [attrInt('keepdims', 0)]);
  const maskSub = g.node('Sub', `${maskScope}/Sub`, [maskSum, axisOne]);
  const seqlensK = g.node('Cast', `${maskScope}/Sub/Cast`, [maskSub], [attrInt('to', DataType.INT32)]); // (batch) i32
  const maskShape = g.node('Shape', `${maskScope}/Shape`, ['attention_mask']);
  const totalLen64 = g.node('Gather', `${maskScope}/Gather`, [maskShape, one], [attrInt('axis', 0)]);
  const totalLen = g.node('Cast', `${maskScope}/Gather/Cast`, [totalLen64], [attrInt('to', DataType.INT32)]); // () i32

  const { cos, sin } = rotaryCaches(config, padded);
  g.float32('cos_cache', [config.seqLen, padded / 2], cos);
  g.float32('sin_cache', [config.seqLen, padded / 2], sin);

  const embedding = g.float32('model.embed_tokens.weight', [vocabSize, dim], weights.tokenEmbedding);
  let residual = g.node('Gather', '/model/embed_tokens/Gather', [embedding, 'input_ids']); // (batch, seq, dim)
  let branch = residual; // what the next norm adds to the residual stream

  const eps = attrFloat('epsilon', LLAMA2C_RMS_NORM_EPS);
  for (let layer = 0; layer < nLayers; layer++) {
    const scope = `/model/layers.${layer}`;
    const prefix = `model.layers.${layer}`;
    const slice = layerSlice(layer);

    const inputNorm = g.float32(`${prefix}.input_layernorm.weight`, [dim], slice(weights.rmsAtt, 1, dim));
    let normed: string; // (batch, seq, dim)
    if (layer === 0) {
      normed = g.node(
        'SimplifiedLayerNormalization',
        `${scope}/input_layernorm/LayerNorm`,
        [residual, inputNorm],
        [attrInt('axis', -1), eps, attrInt('stash_type', 1)],
        '',
        [`${scope}/input_layernorm/output_0`],
      );
    } else {
      [normed, residual] = skipNorm(g, `${scope}/input_layernorm`, residual, branch, inputNorm, eps);
    }

    const wq = headPaddedProjection(slice(weights.wq, dim, dim), nHeads, headDim, padded, dim, true);
    const wk = headPaddedProjection(slice(weights.wk, kvDim, dim), nKvHeads, headDim, padded, dim, true);
    const wv = headPaddedProjection(slice(weights.wv, kvDim, dim), nKvHeads, headDim, padded, dim, false);
    let q = project(`${scope}/attn/q_proj`, normed, dim, nHeads * padded, wq); // (batch, seq, nHeads * padded)
    let k = project(`${scope}/attn/k_proj`, normed, dim, nKvHeads * padded, wk); // (batch, seq, nKvHeads * padded)
    const v = project(`${scope}/attn/v_proj`, normed, dim, nKvHeads * padded, wv); // (batch, seq, nKvHeads * padded)
    if (variant.qk) [q, k] = variant.qk(layer, q, k);

    const past = [`past_key_values.${layer}.key`, `past_key_values.${layer}.value`];
    // Without do_rotary the optional cos/sin inputs are simply left off.
    const caches = doRotary ? ['cos_cache', 'sin_cache'] : [];
    const attention = g.node(
      'GroupQueryAttention',
      `${scope}/attn/GroupQueryAttention`,
      [q, k, v, ...past, seqlensK, totalLen, ...caches],
      [
        attrInt('num_heads', nHeads),
        attrInt('kv_num_heads', nKvHeads),
        // Explicit: the default would be 1/sqrt(padded head size).
        attrFloat('scale', 1 / Math.sqrt(headDim)),
        attrInt('do_rotary', doRotary ? 1 : 0),
        attrInt('rotary_interleaved', 0),
        attrInt('local_window_size', -1),
      ],
      'com.microsoft',
      [`${scope}/attn/GroupQueryAttention/output_0`, `present.${layer}.key`, `present.${layer}.value`],
    ); // (batch, seq, nHeads * padded)
    const wo = oProjPadded(slice(weights.wo, dim, dim), nHeads, headDim, padded, dim);
    const attnOut = project(`${scope}/attn/o_proj`, attention, nHeads * padded, dim, wo); // (batch, seq, dim)

    const postNorm = g.float32(`${prefix}.post_attention_layernorm.weight`, [dim], slice(weights.rmsFfn, 1, dim));
    [normed, residual] = skipNorm(g, `${scope}/post_attention_layernorm`, residual, attnOut, postNorm, eps);
    branch = mlp(context, layer, `${scope}/mlp`, normed, hiddenDim);
  }

  const finalScope = `/model/layers.${nLayers}/final_norm_layernorm`;
  const finalNorm = g.float32(`model.layers.${nLayers}.final_norm_layernorm.weight`, [dim], weights.rmsFinal);
  const hidden = g.node(
    'SkipSimplifiedLayerNormalization',
    `${finalScope}/SkipLayerNorm`,
    [residual, branch, finalNorm],
    [eps],
    'com.microsoft',
    [`${finalScope}/output_0`],
  );
  lmHead(context, hidden);

  const inputs = [
    valueInfo('input_ids', DataType.INT64, ['batch_size', 'sequence_length']),
    valueInfo('attention_mask', DataType.INT64, ['batch_size', 'total_sequence_length']),
  ];
  return withKvIo(inputs, config, padded);
}

/** Adds past_key_values.N.* inputs and the logits and present.N.* outputs, KV as (batch, kvHeads, len, kvHeadSize). */
export function withKvIo(inputs: onnx.IValueInfoProto[], config: Llama2cConfig, kvHeadSize: number): GraphIo {
  const kvShape = (len: string) => ['batch_size', config.nKvHeads, len, kvHeadSize];
  const outputs = [valueInfo('logits', DataType.FLOAT, ['batch_size', 'sequence_length', config.vocabSize])];
  for (let layer = 0; layer < config.nLayers; layer++) {
    for (const kind of ['key', 'value']) {
      inputs.push(valueInfo(`past_key_values.${layer}.${kind}`, DataType.FLOAT, kvShape('past_sequence_length')));
      outputs.push(valueInfo(`present.${layer}.${kind}`, DataType.FLOAT, kvShape('total_sequence_length')));
    }
  }
  return { inputs, outputs };
}

/** Hugging Face LlamaConfig of the original (unpadded) model, for config.json. */
export function llama2cHfConfig(config: Llama2cConfig): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: config.dim,
    intermediate_size: config.hiddenDim,
    num_hidden_layers: config.nLayers,
    num_attention_heads: config.nHeads,
    num_key_value_heads: config.nKvHeads,
    head_dim: headDimOf(config),
    vocab_size: config.vocabSize,
    max_position_embeddings: config.seqLen,
    rms_norm_eps: LLAMA2C_RMS_NORM_EPS,
    rope_theta: LLAMA2C_ROPE_THETA,
    hidden_act: 'silu',
    tie_word_embeddings: config.sharedClassifier,
    bos_token_id: LLAMA2C_BOS_ID,
    eos_token_id: LLAMA2C_EOS_ID,
    torch_dtype: 'float32',
  };
}

/** generation_config.json. */
export function llama2cGenerationConfig(): Record<string, unknown> {
  return { bos_token_id: LLAMA2C_BOS_ID, eos_token_id: LLAMA2C_EOS_ID };
}

/** (nLayers, rows, cols) -> layer's (rows, cols). */
export function layerSlice(layer: number) {
  return (w: Float32Array, rows: number, cols: number) => w.subarray(layer * rows * cols, (layer + 1) * rows * cols);
}

/** The builder's name stem for a projection's weights: `/model/layers.0/attn/q_proj` -> `model.layers.0.attn.q_proj`. */
export function builderWeightPrefix(scope: string): string {
  return scope.slice(1).replaceAll('/', '.');
}

/** Projections as f32 MatMul weights. */
export function matMulProjection(g: GraphBuilder): Projector {
  return (scope, input, inDim, outDim, w, output) => {
    const name = `${scope}/MatMul`;
    const weight = g.float32(`${builderWeightPrefix(scope)}.MatMul.weight`, [inDim, outDim], w);
    return g.node('MatMul', name, [input, weight], [], '', [output ?? `${name}/output_0`]);
  };
}

/** SwiGLU MLP: down(silu(gate(x)) * up(x)). */
export function mlp(context: ExportContext, layer: number, scope: string, normed: string, hiddenDim: number): string {
  const { g, weights, project } = context;
  const { dim } = weights.config;
  const slice = layerSlice(layer);
  const gate = project(`${scope}/gate_proj`, normed, dim, hiddenDim, transpose(slice(weights.w1, hiddenDim, dim), hiddenDim, dim));
  const up = project(`${scope}/up_proj`, normed, dim, hiddenDim, transpose(slice(weights.w3, hiddenDim, dim), hiddenDim, dim));
  const sigmoid = g.node('Sigmoid', `${scope}/act_fn/Sigmoid`, [gate]);
  const silu = g.node('Mul', `${scope}/act_fn/Mul`, [gate, sigmoid]); // (batch, seq, hiddenDim)
  const gated = g.node('Mul', `${scope}/Mul`, [silu, up]);
  return project(`${scope}/down_proj`, gated, hiddenDim, dim, transpose(slice(weights.w2, dim, hiddenDim), dim, hiddenDim));
}

/** The classifier; a tied one still gets its own (dim, vocab) copy: MatMul needs the transposed layout. */
export function lmHead(context: ExportContext, hidden: string): void {
  const { weights, project } = context;
  const { config } = weights;
  project('/lm_head', hidden, config.dim, config.vocabSize, transpose(weights.wcls, config.vocabSize, config.dim), 'logits');
}

/** Builder-style skip norm: returns [normalised output_0, residual sum output_3]. */
function skipNorm(
  g: GraphBuilder,
  scope: string,
  residual: string,
  branch: string,
  weight: string,
  eps: onnx.IAttributeProto,
): [string, string] {
  const outputs = [`${scope}/output_0`, '', '', `${scope}/output_3`];
  g.node('SkipSimplifiedLayerNormalization', `${scope}/SkipLayerNorm`, [residual, branch, weight], [eps], 'com.microsoft', outputs);
  return [outputs[0], outputs[3]];
}


/** Where dim c of a head (half-split layout) lands in the padded head: halves at 0 and padded/2. */
export function paddedSlot(c: number, headDim: number, padded: number): number {
  const half = headDim / 2;
  return c < half ? c : c - half + padded / 2;
}

/**
 * A q/k/v projection in MatMul layout with padded heads (padded = headDim: no padding).
 * w: (nHeads * headDim out, dim in), llama2.c layout -> (dim in, nHeads * padded out).
 * With `rope`, each head is also converted from llama2.c's adjacent pairs (2p, 2p+1) to the
 * half-split pairs (p, p + half), as llama2.c's own export.py permutes wq and wk.
 */
export function headPaddedProjection(
  w: Float32Array,
  nHeads: number,
  headDim: number,
  padded: number,
  dim: number,
  rope: boolean,
): Float32Array {
  const half = headDim / 2;
  const width = nHeads * padded;
  const out = new Float32Array(dim * width);
  for (let h = 0; h < nHeads; h++) {
    for (let c = 0; c < headDim; c++) {
      const source = rope ? (c < half ? 2 * c : 2 * (c - half) + 1) : c;
      const row = (h * headDim + source) * dim;
      const col = h * padded + paddedSlot(c, headDim, padded);
      for (let i = 0; i < dim; i++) out[i * width + col] = w[row + i];
    }
  }
  return out;
}

/** o_proj in MatMul layout: wo (dim out, nHeads * headDim in) -> (nHeads * padded in, dim out), zero rows for padding. */
export function oProjPadded(wo: Float32Array, nHeads: number, headDim: number, padded: number, dim: number): Float32Array {
  const inDim = nHeads * headDim;
  const out = new Float32Array(nHeads * padded * dim);
  for (let h = 0; h < nHeads; h++) {
    for (let c = 0; c < headDim; c++) {
      const row = (h * padded + paddedSlot(c, headDim, padded)) * dim;
      for (let o = 0; o < dim; o++) out[row + o] = wo[o * inDim + h * headDim + c];
    }
  }
  return out;
}

/** w: (rows, cols) -> (cols, rows). */
function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c];
  }
  return out;
}

/**
 * GroupQueryAttention/RotaryEmbedding cos/sin caches (seqLen, width / 2), float64 before
 * rounding: angle pos * theta^(-2p / headDim) for pair p. Columns past the model's pairs hold
 * angle 0 (they only ever rotate padding).
 */
export function rotaryCaches(config: Llama2cConfig, width: number): { cos: Float32Array; sin: Float32Array } {
  const headDim = headDimOf(config);
  const columns = width / 2;
  const cos = new Float32Array(config.seqLen * columns).fill(1);
  const sin = new Float32Array(config.seqLen * columns);
  for (let pos = 0; pos < config.seqLen; pos++) {
    for (let p = 0; p < headDim / 2; p++) {
      const angle = pos * Math.pow(LLAMA2C_ROPE_THETA, (-2 * p) / headDim);
      cos[pos * columns + p] = Math.cos(angle);
      sin[pos * columns + p] = Math.sin(angle);
    }
  }
  return { cos, sin };
}
