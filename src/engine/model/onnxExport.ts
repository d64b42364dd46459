// Exports a llama2.c model as an ONNX decoder in the onnxruntime-genai model-builder form (builder
// node and tensor names, SkipSimplifiedLayerNormalization, GroupQueryAttention), so that it loads
// and splits like any builder export; also writes the Hugging Face config.json that goes with it.
//
// onnxruntime 1.30's GroupQueryAttention refuses head sizes that are not a multiple of 16, so heads
// are padded: each head's two rotary halves sit at dims [0, half) and [P/2, P/2 + half) of a head
// of P dims, all other q/k/v rows and o_proj columns are zero, the cos/sin caches rotate the padded
// pairs by angle 0, and the attention scale stays 1/sqrt(headDim). The result is exactly the
// original model.

import onnxProto from 'onnx-proto';
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

// onnx-proto is CommonJS: only its default export survives Node's native ESM loader (tsx tools).
const proto = onnxProto.onnx;
const DataType = proto.TensorProto.DataType;
const AttrType = proto.AttributeProto.AttributeType;

/** 'fused': GroupQueryAttention rotates q/k (do_rotary=1, builder default since genai PR #1847).
 *  'separate': RotaryEmbedding nodes fed by a position_ids input rotate q/k before GQA (older builds). */
export type RotaryPlacement = 'fused' | 'separate';

export interface OnnxExportOptions {
  rotary?: RotaryPlacement;
  /** Store every weight in one side file of this name instead of in the model's raw_data (the few
   *  int64 graph constants stay embedded: onnxruntime refuses them as external data). */
  externalData?: { location: string };
}

export interface OnnxExport {
  model: Uint8Array;
  /** Present when options.externalData was given; `location` is the name the model refers to. */
  externalData?: { location: string; bytes: Uint8Array };
}

/** GroupQueryAttention's head-size granularity in onnxruntime 1.30. */
const GQA_HEAD_MULTIPLE = 16;
// Side-file tensors start on 64-byte boundaries so that any typed view over them is aligned.
const EXTERNAL_ALIGNMENT = 64;

export function paddedHeadDim(headDim: number): number {
  return Math.ceil(headDim / GQA_HEAD_MULTIPLE) * GQA_HEAD_MULTIPLE;
}

export function exportLlama2cToOnnx(weights: Llama2cWeights, options: OnnxExportOptions = {}): OnnxExport {
  const rotary = options.rotary ?? 'fused';
  const { config } = weights;
  const { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize } = config;
  const headDim = headDimOf(config);
  const padded = paddedHeadDim(headDim);
  const kvDim = nKvHeads * headDim;
  const g = new GraphBuilder();

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
    const slice = (w: Float32Array, rows: number, cols: number) => w.subarray(layer * rows * cols, (layer + 1) * rows * cols);

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
    let q = matmul(g, `${scope}/attn/q_proj`, normed, [dim, nHeads * padded], wq); // (batch, seq, nHeads * padded)
    let k = matmul(g, `${scope}/attn/k_proj`, normed, [dim, nKvHeads * padded], wk); // (batch, seq, nKvHeads * padded)
    const v = matmul(g, `${scope}/attn/v_proj`, normed, [dim, nKvHeads * padded], wv); // (batch, seq, nKvHeads * padded)

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
    const attnOut = matmul(g, `${scope}/attn/o_proj`, attention, [nHeads * padded, dim], wo); // (batch, seq, dim)

    const postNorm = g.float32(`${prefix}.post_attention_layernorm.weight`, [dim], slice(weights.rmsFfn, 1, dim));
    [normed, residual] = skipNorm(g, `${scope}/post_attention_layernorm`, residual, attnOut, postNorm, eps);

    const gate = matmul(g, `${scope}/mlp/gate_proj`, normed, [dim, hiddenDim], transpose(slice(weights.w1, hiddenDim, dim), hiddenDim, dim));
    const up = matmul(g, `${scope}/mlp/up_proj`, normed, [dim, hiddenDim], transpose(slice(weights.w3, hiddenDim, dim), hiddenDim, dim));
    const sigmoid = g.node('Sigmoid', `${scope}/mlp/act_fn/Sigmoid`, [gate]);
    const silu = g.node('Mul', `${scope}/mlp/act_fn/Mul`, [gate, sigmoid]); // (batch, seq, hiddenDim)
    const gated = g.node('Mul', `${scope}/mlp/Mul`, [silu, up]);
    branch = matmul(g, `${scope}/mlp/down_proj`, gated, [hiddenDim, dim], transpose(slice(weights.w2, dim, hiddenDim), dim, hiddenDim));
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
  // A tied classifier still gets its own [dim, vocab] copy: MatMul needs the transposed layout.
  const lmHead = g.float32('lm_head.MatMul.weight', [dim, vocabSize], transpose(weights.wcls, vocabSize, dim));
  g.node('MatMul', '/lm_head/MatMul', [hidden, lmHead], [], '', ['logits']);

  const kvShape = (len: string) => ['batch_size', nKvHeads, len, padded];
  const inputs = [
    valueInfo('input_ids', DataType.INT64, ['batch_size', 'sequence_length']),
    valueInfo('attention_mask', DataType.INT64, ['batch_size', 'total_sequence_length']),
  ];
  if (rotary === 'separate') inputs.push(valueInfo('position_ids', DataType.INT64, ['batch_size', 'sequence_length']));
  const outputs = [valueInfo('logits', DataType.FLOAT, ['batch_size', 'sequence_length', vocabSize])];
  for (let layer = 0; layer < nLayers; layer++) {
    for (const kind of ['key', 'value']) {
      inputs.push(valueInfo(`past_key_values.${layer}.${kind}`, DataType.FLOAT, kvShape('past_sequence_length')));
      outputs.push(valueInfo(`present.${layer}.${kind}`, DataType.FLOAT, kvShape('total_sequence_length')));
    }
  }

  const { initializer, externalBytes } = g.initializers(options.externalData?.location);
  const model = proto.ModelProto.create({
    irVersion: 8,
    producerName: 'endless-chat llama2.c exporter',
    opsetImport: [
      { domain: '', version: 17 },
      { domain: 'com.microsoft', version: 1 },
    ],
    graph: { name: 'main_graph', node: g.nodes, initializer, input: inputs, output: outputs },
  });
  const bytes = proto.ModelProto.encode(model).finish();
  if (!options.externalData || !externalBytes) return { model: bytes };
  return { model: bytes, externalData: { location: options.externalData.location, bytes: externalBytes } };
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
  /** Whether the tensor may live in the side file (weights may, graph constants may not). */
  weight: boolean;
}

/** Collects nodes (in topological order, as added) and initializers. */
class GraphBuilder {
  readonly nodes: onnx.INodeProto[] = [];
  private readonly tensors: PendingTensor[] = [];

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
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.tensors.push({ name, dataType: DataType.FLOAT, dims, bytes, weight: true });
    return name;
  }

  int64(name: string, dims: number[], values: number[]): string {
    const data = BigInt64Array.from(values, (v) => BigInt(v));
    // onnxruntime's shape inference reads constants such as ReduceSum's axes and refuses them
    // as external data ("Cannot parse data from external tensors"), so they stay embedded.
    this.tensors.push({ name, dataType: DataType.INT64, dims, bytes: new Uint8Array(data.buffer), weight: false });
    return name;
  }

  /** TensorProtos with raw_data, or, given a location, with every weight pointing into one side file. */
  initializers(location?: string): { initializer: onnx.ITensorProto[]; externalBytes?: Uint8Array } {
    const embedded = ({ name, dataType, dims, bytes }: PendingTensor): onnx.ITensorProto => ({ name, dataType, dims, rawData: bytes });
    if (location === undefined) return { initializer: this.tensors.map(embedded) };
    const offsets = new Map<PendingTensor, number>();
    let size = 0;
    for (const tensor of this.tensors) {
      if (!tensor.weight) continue;
      offsets.set(tensor, size);
      size = Math.ceil((size + tensor.bytes.byteLength) / EXTERNAL_ALIGNMENT) * EXTERNAL_ALIGNMENT;
    }
    const externalBytes = new Uint8Array(size);
    const initializer = this.tensors.map((tensor) => {
      const offset = offsets.get(tensor);
      if (offset === undefined) return embedded(tensor);
      externalBytes.set(tensor.bytes, offset);
      return {
        name: tensor.name,
        dataType: tensor.dataType,
        dims: tensor.dims,
        dataLocation: proto.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: location },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: String(tensor.bytes.byteLength) },
        ],
      };
    });
    return { initializer, externalBytes };
  }
}

function matmul(g: GraphBuilder, scope: string, input: string, dims: [number, number], weight: Float32Array): string {
  const name = `${scope}/MatMul`;
  const w = g.float32(`${scope.slice(1).replaceAll('/', '.')}.MatMul.weight`, dims, weight);
  return g.node('MatMul', name, [input, w]);
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

/** Where dim c of a head (half-split layout) lands in the padded head: halves at 0 and padded/2. */
function paddedSlot(c: number, headDim: number, padded: number): number {
  const half = headDim / 2;
  return c < half ? c : c - half + padded / 2;
}

/**
 * A q/k/v projection in MatMul layout with padded heads.
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
 * cos/sin caches (seqLen, padded / 2) in float64 before rounding: column p < headDim/2 holds
 * the model's angle pos * theta^(-2p / headDim); padded columns only ever rotate zeros (angle 0).
 */
function rotaryCaches(config: Llama2cConfig, padded: number): { cos: Float32Array; sin: Float32Array } {
  const headDim = headDimOf(config);
  const width = padded / 2;
  const cos = new Float32Array(config.seqLen * width).fill(1);
  const sin = new Float32Array(config.seqLen * width);
  for (let pos = 0; pos < config.seqLen; pos++) {
    for (let p = 0; p < headDim / 2; p++) {
      const angle = pos * Math.pow(LLAMA2C_ROPE_THETA, (-2 * p) / headDim);
      cos[pos * width + p] = Math.cos(angle);
      sin[pos * width + p] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

function attrInt(name: string, i: number): onnx.IAttributeProto {
  return { name, type: AttrType.INT, i };
}

function attrFloat(name: string, f: number): onnx.IAttributeProto {
  return { name, type: AttrType.FLOAT, f };
}

function valueInfo(name: string, elemType: number, dims: (string | number)[]): onnx.IValueInfoProto {
  const dim = dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d }));
  return { name, type: { tensorType: { elemType, shape: { dim } } } };
}
