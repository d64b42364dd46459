// Exports a llama2.c model as an ONNX decoder in either structure the hub ships, so that it loads
// and splits like any hub model; also writes the Hugging Face config.json that goes with it.
//
// 'gqa': the onnxruntime-genai model-builder form (builder node and tensor names,
// SkipSimplifiedLayerNormalization, GroupQueryAttention with do_rotary or RotaryEmbedding nodes).
// onnxruntime 1.30's GroupQueryAttention refuses head sizes that are not a multiple of 16, so heads
// are padded: each head's two rotary halves sit at dims [0, half) and [P/2, P/2 + half) of a head
// of P dims, all other q/k/v rows and o_proj columns are zero, the cos/sin caches rotate the padded
// pairs by angle 0, and the attention scale stays 1/sqrt(headDim). The result is exactly the
// original model.
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

import onnxProto from 'onnx-proto';
import type { onnx } from 'onnx-proto';
import { EngineError } from '../../protocol/errors.ts';
import {
  LLAMA2C_BOS_ID,
  LLAMA2C_EOS_ID,
  LLAMA2C_RMS_NORM_EPS,
  LLAMA2C_ROPE_THETA,
  headDimOf,
  type Llama2cConfig,
  type Llama2cWeights,
} from './llama2c.ts';

// onnx-proto is CommonJS: only its default export survives Node's native ESM loader (tsx tools).
const proto = onnxProto.onnx;
const DataType = proto.TensorProto.DataType;
const AttrType = proto.AttributeProto.AttributeType;

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
  /** The first external data file (the only one without chunkBytes), when options.externalData was given. */
  externalData?: ExternalDataFile;
  /** Every external data file, in order; empty when the weights are embedded. */
  externalFiles: ExternalDataFile[];
}

/** GroupQueryAttention's head-size granularity in onnxruntime 1.30. */
const GQA_HEAD_MULTIPLE = 16;
// Side-file tensors start on 64-byte boundaries so that any typed view over them is aligned.
const EXTERNAL_ALIGNMENT = 64;
/** MatMulNBits block: 32 weights along K share a scale and a zero point (onnxruntime's default for q4 exports). */
const Q4_BLOCK = 32;
/** torch.finfo(float32).min: what Hugging Face models add to masked attention scores. */
const MASKED_SCORE = -3.4028234663852886e38;
const INT64_MAX = 9223372036854775807n;

export function paddedHeadDim(headDim: number): number {
  return Math.ceil(headDim / GQA_HEAD_MULTIPLE) * GQA_HEAD_MULTIPLE;
}

/** Everything a layer builder needs, shared by both attention forms. */
interface ExportContext {
  g: GraphBuilder;
  weights: Llama2cWeights;
  config: Llama2cConfig;
  headDim: number;
  format: WeightFormat;
  qkNorm: boolean;
}

export function exportLlama2cToOnnx(weights: Llama2cWeights, options: OnnxExportOptions = {}): OnnxExport {
  const attention = options.attention ?? 'gqa';
  const rows = options.rotaryRows ?? weights.config.seqLen;
  if (!Number.isInteger(rows) || rows < 1) throw new EngineError('CONFIG_INVALID', `The rotary cache needs a whole number of rows, not ${rows}.`);
  // Only the cos/sin caches read seqLen when building the graph.
  const config = { ...weights.config, seqLen: rows };
  const g = new GraphBuilder();
  const context: ExportContext = {
    g,
    weights,
    config,
    headDim: headDimOf(config),
    format: options.weights ?? 'f32',
    qkNorm: options.qkNorm ?? false,
  };
  const { inputs, outputs } = attention === 'gqa' ? buildGqaDecoder(context, options.rotary ?? 'fused') : buildUnfusedDecoder(context);

  const { initializer, files } = g.initializers(options.externalData);
  const model = proto.ModelProto.create({
    irVersion: 8,
    producerName: 'endless-chat llama2.c exporter',
    opsetImport: [
      { domain: '', version: 17 },
      { domain: 'com.microsoft', version: 1 },
    ],
    graph: { name: 'main_graph', node: g.nodes, initializer, input: inputs, output: outputs },
  });
  return { model: proto.ModelProto.encode(model).finish(), externalData: files[0], externalFiles: files };
}

/** The builder form: skip norms, GroupQueryAttention over padded heads. */
function buildGqaDecoder(context: ExportContext, rotary: RotaryPlacement): GraphIo {
  const { g, weights, config, headDim } = context;
  const { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize } = config;
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

  const { cos, sin } = rotaryCaches(config, padded, false);
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
    let q = project(context, `${scope}/attn/q_proj`, normed, dim, nHeads * padded, wq); // (batch, seq, nHeads * padded)
    let k = project(context, `${scope}/attn/k_proj`, normed, dim, nKvHeads * padded, wk); // (batch, seq, nKvHeads * padded)
    const v = project(context, `${scope}/attn/v_proj`, normed, dim, nKvHeads * padded, wv); // (batch, seq, nKvHeads * padded)
    if (context.qkNorm) {
      // As the builder's make_qk_norm: (batch, seq * heads, padded) -> norm -> back to (batch, seq, heads * padded).
      q = builderQkNorm(g, `${scope}/attn/q_norm`, `${prefix}.attn.q_norm.layernorm.weight`, q, nHeads, headDim, padded);
      k = builderQkNorm(g, `${scope}/attn/k_norm`, `${prefix}.attn.k_norm.layernorm.weight`, k, nKvHeads, headDim, padded);
    }

    if (rotary === 'separate') {
      q = rotaryEmbedding(g, `${scope}/attn/q_rotary/RotaryEmbedding`, q, nHeads, padded);
      k = rotaryEmbedding(g, `${scope}/attn/k_rotary/RotaryEmbedding`, k, nKvHeads, padded);
    }
    const past = [`past_key_values.${layer}.key`, `past_key_values.${layer}.value`];
    // With separate rotary nodes the optional cos/sin inputs are simply left off.
    const caches = rotary === 'fused' ? ['cos_cache', 'sin_cache'] : [];
    const attention = g.node(
      'GroupQueryAttention',
      `${scope}/attn/GroupQueryAttention`,
      [q, k, v, ...past, seqlensK, totalLen, ...caches],
      [
        attrInt('num_heads', nHeads),
        attrInt('kv_num_heads', nKvHeads),
        // Explicit: the default would be 1/sqrt(padded head size).
        attrFloat('scale', 1 / Math.sqrt(headDim)),
        attrInt('do_rotary', rotary === 'fused' ? 1 : 0),
        attrInt('rotary_interleaved', 0),
        attrInt('local_window_size', -1),
      ],
      'com.microsoft',
      [`${scope}/attn/GroupQueryAttention/output_0`, `present.${layer}.key`, `present.${layer}.value`],
    ); // (batch, seq, nHeads * padded)
    const wo = oProjPadded(slice(weights.wo, dim, dim), nHeads, headDim, padded, dim);
    const attnOut = project(context, `${scope}/attn/o_proj`, attention, nHeads * padded, dim, wo); // (batch, seq, dim)

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
  if (rotary === 'separate') inputs.push(valueInfo('position_ids', DataType.INT64, ['batch_size', 'sequence_length']));
  return withKvIo(inputs, config, padded);
}

/** The optimum/TorchScript form: everything attention does spelled out in plain ONNX ops. */
function buildUnfusedDecoder(context: ExportContext): GraphIo {
  const { g, weights, config, headDim } = context;
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
  const scoreBias = g.node('Where', `${mask}/Where`, [allowed, g.scalar('/model/constants/FLOAT/0', 0), g.scalar('/model/constants/FLOAT/min', MASKED_SCORE)]);

  // cos/sin (batch, 1, seq, headDim) for Hugging Face's emb = cat(freqs, freqs).
  const { cos, sin } = rotaryCaches(config, headDim, true);
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
    const q = project(context, `${attn}/q_proj`, normed, dim, nHeads * headDim, wq); // (batch, seq, nHeads * headDim)
    const k = project(context, `${attn}/k_proj`, normed, dim, kvDim, wk); // (batch, seq, nKvHeads * headDim)
    const v = project(context, `${attn}/v_proj`, normed, dim, kvDim, wv);

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
      if (context.qkNorm && name !== 'v') {
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
    const scale = g.node('Div', `${attn}/Div`, [g.scalar('/model/constants/FLOAT/1', 1), g.node('Sqrt', `${attn}/Sqrt`, [headSize])]);
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
    residual = g.node('Add', `${scope}/Add`, [residual, project(context, `${attn}/o_proj`, merged, nHeads * headDim, dim, wo)]);

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

interface GraphIo {
  inputs: onnx.IValueInfoProto[];
  outputs: onnx.IValueInfoProto[];
}

/** Adds past_key_values.N.* inputs and the logits and present.N.* outputs, KV as (batch, kvHeads, len, kvHeadSize). */
function withKvIo(inputs: onnx.IValueInfoProto[], config: Llama2cConfig, kvHeadSize: number): GraphIo {
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

interface PendingTensor {
  name: string;
  dataType: number;
  dims: number[];
  bytes: Uint8Array;
  /** Whether the tensor may live in a side file (weights may, graph constants may not). */
  weight: boolean;
}

/** Collects nodes (in topological order, as added) and initializers. */
class GraphBuilder {
  readonly nodes: onnx.INodeProto[] = [];
  private readonly tensors: PendingTensor[] = [];
  private readonly names = new Set<string>();

  /** Adds a node and returns its first output, named `${name}/output_0` unless given. */
  node(
    opType: string,
    name: string,
    inputs: string[],
    attribute: onnx.IAttributeProto[] = [],
    domain = '',
    outputs = [`${name}/output_0`],
  ): string {
    this.nodes.push({ opType, name, input: inputs, output: outputs, attribute, domain });
    return outputs[0];
  }

  float32(name: string, dims: number[], data: Float32Array): string {
    return this.add({ name, dataType: DataType.FLOAT, dims, bytes: bytesOf(data), weight: true });
  }

  uint8(name: string, dims: number[], data: Uint8Array): string {
    return this.add({ name, dataType: DataType.UINT8, dims, bytes: data, weight: true });
  }

  /** A float graph constant (scale, epsilon, mask value): always embedded, like the int64 ones. */
  scalar(name: string, value: number): string {
    return this.add({ name, dataType: DataType.FLOAT, dims: [], bytes: bytesOf(Float32Array.of(value)), weight: false });
  }

  int64(name: string, dims: number[], values: (number | bigint)[]): string {
    const data = BigInt64Array.from(values, (v) => BigInt(v));
    // onnxruntime's shape inference reads constants such as ReduceSum's axes and refuses them
    // as external data ("Cannot parse data from external tensors"), so they stay embedded.
    return this.add({ name, dataType: DataType.INT64, dims, bytes: bytesOf(data), weight: false });
  }

  /** Registers a tensor once: layers share constants such as reshape shapes by name. */
  private add(tensor: PendingTensor): string {
    if (!this.names.has(tensor.name)) {
      this.names.add(tensor.name);
      this.tensors.push(tensor);
    }
    return tensor.name;
  }

  /** TensorProtos with raw_data, or, given a location, with every weight pointing into side files. */
  initializers(external?: { location: string; chunkBytes?: number }): { initializer: onnx.ITensorProto[]; files: ExternalDataFile[] } {
    const embedded = ({ name, dataType, dims, bytes }: PendingTensor): onnx.ITensorProto => ({ name, dataType, dims, rawData: bytes });
    if (external === undefined) return { initializer: this.tensors.map(embedded), files: [] };
    const limit = external.chunkBytes ?? Infinity;
    // File and offset of every weight; a tensor never straddles two files.
    const placement = new Map<PendingTensor, { file: number; offset: number }>();
    const sizes: number[] = [0];
    for (const tensor of this.tensors) {
      if (!tensor.weight) continue;
      let file = sizes.length - 1;
      if (sizes[file] > 0 && sizes[file] + tensor.bytes.byteLength > limit) sizes[++file] = 0;
      placement.set(tensor, { file, offset: sizes[file] });
      sizes[file] = Math.ceil((sizes[file] + tensor.bytes.byteLength) / EXTERNAL_ALIGNMENT) * EXTERNAL_ALIGNMENT;
    }
    const files = sizes.map((size, i) => ({ location: i === 0 ? external.location : `${external.location}_${i}`, bytes: new Uint8Array(size) }));
    const initializer = this.tensors.map((tensor) => {
      const at = placement.get(tensor);
      if (!at) return embedded(tensor);
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
}

function bytesOf(data: Float32Array | BigInt64Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** (nLayers, rows, cols) -> layer's (rows, cols). */
function layerSlice(layer: number) {
  return (w: Float32Array, rows: number, cols: number) => w.subarray(layer * rows * cols, (layer + 1) * rows * cols);
}

/**
 * A projection x (.., inDim) @ w (inDim, outDim): MatMul with an f32 weight, or MatMulNBits with
 * the weight quantized to 4 bits. The weight is named after the scope as the builder names it.
 */
function project(
  context: ExportContext,
  scope: string,
  input: string,
  inDim: number,
  outDim: number,
  w: Float32Array,
  output?: string,
): string {
  const { g } = context;
  const base = scope.slice(1).replaceAll('/', '.');
  if (context.format === 'f32') {
    const name = `${scope}/MatMul`;
    return g.node('MatMul', name, [input, g.float32(`${base}.MatMul.weight`, [inDim, outDim], w)], [], '', [output ?? `${name}/output_0`]);
  }
  const q = quantizeQ4(w, inDim, outDim);
  const name = `${scope}/MatMulNBits`;
  return g.node(
    'MatMulNBits',
    name,
    [
      input,
      g.uint8(`${base}.MatMulNBits.weight_Q4`, [outDim, q.nBlocks, Q4_BLOCK / 2], q.packed),
      g.float32(`${base}.MatMulNBits.weight_scales`, [outDim * q.nBlocks], q.scales),
      g.uint8(`${base}.MatMulNBits.weight_zero_points`, [q.zeroPoints.length], q.zeroPoints),
    ],
    [attrInt('K', inDim), attrInt('N', outDim), attrInt('bits', 4), attrInt('block_size', Q4_BLOCK)],
    'com.microsoft',
    [output ?? `${name}/output_0`],
  );
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

/** SwiGLU MLP: down(silu(gate(x)) * up(x)). */
function mlp(context: ExportContext, layer: number, scope: string, normed: string, hiddenDim: number): string {
  const { g, weights, config } = context;
  const { dim } = config;
  const slice = layerSlice(layer);
  const gate = project(context, `${scope}/gate_proj`, normed, dim, hiddenDim, transpose(slice(weights.w1, hiddenDim, dim), hiddenDim, dim));
  const up = project(context, `${scope}/up_proj`, normed, dim, hiddenDim, transpose(slice(weights.w3, hiddenDim, dim), hiddenDim, dim));
  const sigmoid = g.node('Sigmoid', `${scope}/act_fn/Sigmoid`, [gate]);
  const silu = g.node('Mul', `${scope}/act_fn/Mul`, [gate, sigmoid]); // (batch, seq, hiddenDim)
  const gated = g.node('Mul', `${scope}/Mul`, [silu, up]);
  return project(context, `${scope}/down_proj`, gated, hiddenDim, dim, transpose(slice(weights.w2, dim, hiddenDim), dim, hiddenDim));
}

/** The classifier; a tied one still gets its own (dim, vocab) copy: MatMul needs the transposed layout. */
function lmHead(context: ExportContext, hidden: string): void {
  const { weights, config } = context;
  project(context, '/lm_head', hidden, config.dim, config.vocabSize, transpose(weights.wcls, config.vocabSize, config.dim), 'logits');
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

/** LlamaRMSNorm as TorchScript exports it: weight * (x * 1 / sqrt(mean(x^2) + eps)). */
function rmsNorm(g: GraphBuilder, scope: string, x: string, weight: string): string {
  const squared = g.node('Pow', `${scope}/Pow`, [x, g.scalar('/model/constants/FLOAT/2', 2)]);
  const mean = g.node('ReduceMean', `${scope}/ReduceMean`, [squared], [attrInts('axes', [-1]), attrInt('keepdims', 1)]); // (batch, seq, 1)
  const std = g.node('Sqrt', `${scope}/Sqrt`, [g.node('Add', `${scope}/Add`, [mean, g.scalar('/model/constants/FLOAT/eps', LLAMA2C_RMS_NORM_EPS)])]);
  const inverse = g.node('Div', `${scope}/Div`, [g.scalar('/model/constants/FLOAT/1', 1), std]);
  return g.node('Mul', `${scope}/Mul_1`, [weight, g.node('Mul', `${scope}/Mul`, [x, inverse])]);
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

/** Where dim c of a head (half-split layout) lands in the padded head: halves at 0 and padded/2. */
function paddedSlot(c: number, headDim: number, padded: number): number {
  const half = headDim / 2;
  return c < half ? c : c - half + padded / 2;
}

/**
 * A q/k/v projection in MatMul layout with padded heads (padded = headDim: no padding).
 * w: (nHeads * headDim out, dim in), llama2.c layout -> (dim in, nHeads * padded out).
 * With `rope`, each head is also converted from llama2.c's adjacent pairs (2p, 2p+1) to the
 * half-split pairs (p, p + half), as llama2.c's own export.py permutes wq and wk.
 */
function headPaddedProjection(
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
function oProjPadded(wo: Float32Array, nHeads: number, headDim: number, padded: number, dim: number): Float32Array {
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
 * cos/sin tables in float64 before rounding, angle pos * theta^(-2p / headDim) for pair p.
 * GroupQueryAttention/RotaryEmbedding caches (full = false): (seqLen, width / 2), columns past the
 * model's pairs hold angle 0 (they only ever rotate padding). Hugging Face tables (full = true):
 * (seqLen, width) = cat(freqs, freqs), one column per head dim.
 */
function rotaryCaches(config: Llama2cConfig, width: number, full: boolean): { cos: Float32Array; sin: Float32Array } {
  const headDim = headDimOf(config);
  const columns = full ? width : width / 2;
  const cos = new Float32Array(config.seqLen * columns).fill(1);
  const sin = new Float32Array(config.seqLen * columns);
  for (let pos = 0; pos < config.seqLen; pos++) {
    for (let p = 0; p < headDim / 2; p++) {
      const angle = pos * Math.pow(LLAMA2C_ROPE_THETA, (-2 * p) / headDim);
      for (const column of full ? [p, p + headDim / 2] : [p]) {
        cos[pos * columns + column] = Math.cos(angle);
        sin[pos * columns + column] = Math.sin(angle);
      }
    }
  }
  return { cos, sin };
}

function attrInt(name: string, i: number): onnx.IAttributeProto {
  return { name, type: AttrType.INT, i };
}

function attrInts(name: string, ints: number[]): onnx.IAttributeProto {
  return { name, type: AttrType.INTS, ints };
}

function attrFloat(name: string, f: number): onnx.IAttributeProto {
  return { name, type: AttrType.FLOAT, f };
}

function valueInfo(name: string, elemType: number, dims: (string | number)[]): onnx.IValueInfoProto {
  const dim = dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d }));
  return { name, type: { tensorType: { elemType, shape: { dim } } } };
}
