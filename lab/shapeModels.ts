// Random-weight decoders at the catalog's shapes, for the benchmark's --shape runs: each catalog
// chat model's depth and attention shape (layers, heads, KV heads, head dim, hidden size, as
// published) with a narrow MLP and a small vocabulary, so that SwiftShader runs them, written in
// the onnxruntime-genai builder's q4 form as the hub ships it (tests/fixtures/builder-exports):
// GatherBlockQuantized embedding tied to a MatMulNBits lm_head, SkipSimplifiedLayerNormalization,
// one packed q/k/v MatMulNBits feeding GroupQueryAttention with do_rotary, a SwiGLU MLP. Qwen2.5
// keeps its q/k/v bias and Qwen3 its per-head q/k norms (as separate nodes, the builder's
// fuse_qk_norm_gqa=false form). Built in memory from a seed; nothing is written to disk.

import { MODEL_CATALOG } from '../src/models/catalog.ts';
import type { HfConfig } from '../src/models/hfConfig.ts';
import type { ModelFiles } from '../src/engine/model/modelFiles.ts';
import { attrFloat, attrInt, DataType, embeddedTensor, GraphBuilder, proto, valueInfo } from '../src/engine/model/onnxGraph.ts';
import { llama2cTokenizerToHf } from '../src/engine/model/tokenizerJson.ts';
import { mulberry32 } from './random.ts';

export interface ModelShape {
  /** The catalog entry's id. */
  id: string;
  label: string;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  hiddenSize: number;
  ropeTheta: number;
  qkvBias: boolean;
  qkNorm: boolean;
}

/** What the catalog does not keep, from each repository's config.json. Llama 3.2's llama3 RoPE
 *  scaling is left out: it changes the frequencies, not the work. */
const PUBLISHED: Record<string, Pick<ModelShape, 'nHeads' | 'ropeTheta' | 'qkvBias' | 'qkNorm'>> = {
  'qwen3-0.6b': { nHeads: 16, ropeTheta: 1_000_000, qkvBias: false, qkNorm: true },
  'qwen2.5-0.5b-instruct': { nHeads: 14, ropeTheta: 1_000_000, qkvBias: true, qkNorm: false },
  'smollm2-135m-instruct': { nHeads: 9, ropeTheta: 100_000, qkvBias: false, qkNorm: false },
  'llama-3.2-1b-instruct': { nHeads: 32, ropeTheta: 500_000, qkvBias: false, qkNorm: false },
};

/** The catalog's ONNX chat models as shapes, in catalog order. */
export const CATALOG_SHAPES: readonly ModelShape[] = MODEL_CATALOG.filter((e) => e.id in PUBLISHED).map((e) => ({
  id: e.id,
  label: e.label,
  nLayers: e.nLayers,
  nKvHeads: e.nKvHeads,
  headDim: e.headDim,
  hiddenSize: e.hiddenSize,
  ...PUBLISHED[e.id],
}));

/** The widths a shape does not fix. */
export interface ShapeWidths {
  /** MLP intermediate size. */
  mlp: number;
  vocab: number;
  /** Rows of the cos/sin caches: the positions the graph can run at. */
  positions: number;
}

/** Narrow enough for SwiftShader: the MLP and the vocabulary are a small part of a token's work. */
export const NARROW_WIDTHS: Omit<ShapeWidths, 'positions'> = { mlp: 256, vocab: 2048 };

/** The published intermediate sizes and vocabularies, for runs on a real GPU. */
export const PUBLISHED_WIDTHS: Record<string, Omit<ShapeWidths, 'positions'>> = {
  'qwen3-0.6b': { mlp: 3072, vocab: 151_936 },
  'qwen2.5-0.5b-instruct': { mlp: 4864, vocab: 151_936 },
  'smollm2-135m-instruct': { mlp: 1536, vocab: 49_152 },
  'llama-3.2-1b-instruct': { mlp: 8192, vocab: 128_256 },
};

export function findShape(id: string): ModelShape {
  const shape = CATALOG_SHAPES.find((s) => s.id === id);
  if (!shape) throw new Error(`no catalog shape "${id}"; the shapes are ${CATALOG_SHAPES.map((s) => s.id).join(', ')}`);
  return shape;
}

/** MatMulNBits block: 32 weights along K share a scale (the builder's default). */
const BLOCK = 32;
const RMS_EPS = 1e-6;
const BOS_ID = 1;
const EOS_ID = 2;

/** The model's files as the engine loads them; the same seed gives the same model. */
export function shapeModelFiles(shape: ModelShape, widths: ShapeWidths, seed = 1): ModelFiles {
  const { nLayers, nHeads, nKvHeads, headDim, hiddenSize, ropeTheta } = shape;
  const { mlp, vocab, positions } = widths;
  if (hiddenSize % BLOCK || mlp % BLOCK) throw new Error(`hidden size ${hiddenSize} and MLP width ${mlp} must be multiples of ${BLOCK}`);
  const rng = mulberry32(seed);
  const g = new GraphBuilder();
  const eps = attrFloat('epsilon', RMS_EPS);
  const ones = (n: number) => new Float32Array(n).fill(1);

  /** A random 4-bit (K, N) weight as MatMulNBits stores it (no zero points: 8), outputs of unit scale for unit inputs. */
  const q4Weight = (name: string, K: number, N: number, gain = 1) => {
    const nBlocks = K / BLOCK;
    const packed = new Uint8Array(N * nBlocks * (BLOCK / 2));
    const words = new Uint32Array(packed.buffer);
    for (let i = 0; i < words.length; i++) words[i] = (rng() * 2 ** 32) >>> 0;
    // A uniform nibble minus 8 has a standard deviation of about 4.6.
    const scale = gain / (4.6 * Math.sqrt(K));
    const scales = Float32Array.from({ length: N * nBlocks }, () => scale * (0.75 + 0.5 * rng()));
    g.tensor({ name: `${name}.MatMul.weight_Q4`, dataType: DataType.UINT8, dims: [N, nBlocks, BLOCK / 2], bytes: packed, weight: true });
    g.float32(`${name}.MatMul.weight_scales`, [N, nBlocks], scales);
    return { weight: `${name}.MatMul.weight_Q4`, scales: `${name}.MatMul.weight_scales` };
  };
  const project = (scope: string, input: string, K: number, N: number, output?: string, gain?: number) => {
    const w = q4Weight(scope.slice(1).replaceAll('/', '.'), K, N, gain);
    return g.node(
      'MatMulNBits',
      `${scope}/MatMul_Q4`,
      [input, w.weight, w.scales],
      [attrInt('K', K), attrInt('N', N), attrInt('accuracy_level', 4), attrInt('bits', 4), attrInt('block_size', BLOCK)],
      'com.microsoft',
      [output ?? `${scope}/MatMul/output_0`],
    );
  };
  const skipNorm = (scope: string, residual: string, branch: string, weight: string): [string, string] => {
    const outputs = [`${scope}/output_0`, '', '', `${scope}/output_3`];
    g.node('SkipSimplifiedLayerNormalization', `${scope}/SkipLayerNorm`, [residual, branch, weight], [eps], 'com.microsoft', outputs);
    return [outputs[0], outputs[3]];
  };
  const rmsNorm = (scope: string, x: string, weight: string) =>
    g.node('SimplifiedLayerNormalization', `${scope}/LayerNorm`, [x, weight], [attrInt('axis', -1), eps, attrInt('stash_type', 1)], '', [`${scope}/output_0`]);

  // Mask reformatting, as the builder writes it: seqlens_k = sum(mask) - 1, total = mask.shape[1].
  const maskScope = '/model/attn_mask_reformat/attn_mask_subgraph';
  const axisOne = g.int64('/model/constants/INT64/[1]', [1], [1]);
  const one = g.int64('/model/constants/INT64/1', [], [1]);
  const maskSum = g.node('ReduceSum', `${maskScope}/ReduceSum`, ['attention_mask', axisOne], [attrInt('keepdims', 0)]);
  const seqlensK = g.node('Cast', `${maskScope}/Sub/Cast`, [g.node('Sub', `${maskScope}/Sub`, [maskSum, axisOne])], [attrInt('to', DataType.INT32)]); // (batch) i32
  const totalLen64 = g.node('Gather', `${maskScope}/Gather`, [g.node('Shape', `${maskScope}/Shape`, ['attention_mask']), one], [attrInt('axis', 0)]);
  const totalLen = g.node('Cast', `${maskScope}/Gather/Cast`, [totalLen64], [attrInt('to', DataType.INT32)]); // () i32

  const { cos, sin } = rotaryTables(positions, headDim, ropeTheta);
  g.float32('cos_cache', [positions, headDim / 2], cos);
  g.float32('sin_cache', [positions, headDim / 2], sin);

  // The tied embedding: lm_head's 4-bit rows gathered by id; logits of a few units for a unit-RMS hidden state.
  const lmHead = q4Weight('lm_head', hiddenSize, vocab, 3);
  const embeddingRows = g.node('Reshape', '/model/embed_tokens/Reshape', [lmHead.weight, g.int64(`/model/constants/INT64/[${vocab}, ${hiddenSize / 2}]`, [2], [vocab, hiddenSize / 2])]);
  let residual = g.node(
    'GatherBlockQuantized',
    '/model/embed_tokens/GatherBlockQuantized',
    [embeddingRows, 'input_ids', lmHead.scales],
    [attrInt('bits', 4), attrInt('block_size', BLOCK), attrInt('gather_axis', 0), attrInt('quantize_axis', 1)],
    'com.microsoft',
  ); // (batch, seq, hidden)
  let branch = residual;

  const qWidth = nHeads * headDim;
  const kvWidth = nKvHeads * headDim;
  for (let layer = 0; layer < nLayers; layer++) {
    const scope = `/model/layers.${layer}`;
    const prefix = `model.layers.${layer}`;
    const inputNorm = g.float32(`${prefix}.input_layernorm.weight`, [hiddenSize], ones(hiddenSize));
    let normed: string;
    if (layer === 0) normed = rmsNorm(`${scope}/input_layernorm`, residual, inputNorm);
    else [normed, residual] = skipNorm(`${scope}/input_layernorm`, residual, branch, inputNorm);

    let qkv = project(`${scope}/attn/qkv_proj`, normed, hiddenSize, qWidth + 2 * kvWidth); // (batch, seq, (H + 2 Hkv) d)
    if (shape.qkvBias) {
      const bias = Float32Array.from({ length: qWidth + 2 * kvWidth }, () => 0.2 * (rng() - 0.5));
      qkv = g.node('Add', `${scope}/attn/qkv_proj/Add`, [qkv, g.float32(`${prefix}.attn.qkv_proj.Add.bias`, [bias.length], bias)]);
    }
    let qkvInputs = [qkv, '', ''];
    if (shape.qkNorm) {
      const parts = ['output_0', 'output_1', 'output_2'].map((o) => `${scope}/attn/qkv_proj/Split/${o}`);
      const sizes = g.int64(`/model/constants/INT64/[${qWidth}, ${kvWidth}, ${kvWidth}]`, [3], [qWidth, kvWidth, kvWidth]);
      g.node('Split', `${scope}/attn/qkv_proj/Split`, [qkv, sizes], [attrInt('axis', -1)], '', parts);
      const headNorm = (name: 'q' | 'k', x: string, width: number) => {
        const normScope = `${scope}/attn/${name}_norm`;
        const heads = g.node('Reshape', `${normScope}/Reshape_1`, [x, g.int64(`/model/constants/INT64/[0, -1, ${headDim}]`, [3], [0, -1, headDim])]);
        const weight = g.float32(`${prefix}.attn.${name}_norm.layernorm.weight`, [headDim], ones(headDim));
        const n = g.node('SimplifiedLayerNormalization', `${normScope}/SimplifiedLayerNormalization`, [heads, weight], [attrInt('axis', -1), eps, attrInt('stash_type', 1)]);
        return g.node('Reshape', `${normScope}/Reshape_2`, [n, g.int64(`/model/constants/INT64/[0, -1, ${width}]`, [3], [0, -1, width])]);
      };
      qkvInputs = [headNorm('q', parts[0], qWidth), headNorm('k', parts[1], kvWidth), parts[2]];
    }
    const attention = g.node(
      'GroupQueryAttention',
      `${scope}/attn/GroupQueryAttention`,
      [...qkvInputs, `past_key_values.${layer}.key`, `past_key_values.${layer}.value`, seqlensK, totalLen, 'cos_cache', 'sin_cache'],
      [
        attrInt('num_heads', nHeads),
        attrInt('kv_num_heads', nKvHeads),
        attrFloat('scale', 0),
        attrFloat('softcap', 0),
        attrInt('do_rotary', 1),
        attrInt('rotary_interleaved', 0),
      ],
      'com.microsoft',
      [`${scope}/attn/GroupQueryAttention/output_0`, `present.${layer}.key`, `present.${layer}.value`],
    ); // (batch, seq, H d)
    const attnOut = project(`${scope}/attn/o_proj`, attention, qWidth, hiddenSize);
    const postNorm = g.float32(`${prefix}.post_attention_layernorm.weight`, [hiddenSize], ones(hiddenSize));
    [normed, residual] = skipNorm(`${scope}/post_attention_layernorm`, residual, attnOut, postNorm);

    const gate = project(`${scope}/mlp/gate_proj`, normed, hiddenSize, mlp);
    const up = project(`${scope}/mlp/up_proj`, normed, hiddenSize, mlp);
    const silu = g.node('Mul', `${scope}/mlp/act_fn/Mul`, [gate, g.node('Sigmoid', `${scope}/mlp/act_fn/Sigmoid`, [gate])]);
    branch = project(`${scope}/mlp/down_proj`, g.node('Mul', `${scope}/mlp/Mul`, [silu, up]), mlp, hiddenSize);
  }
  const finalNorm = g.float32(`model.layers.${nLayers}.final_norm_layernorm.weight`, [hiddenSize], ones(hiddenSize));
  const [hidden] = skipNorm(`/model/layers.${nLayers}/final_norm_layernorm`, residual, branch, finalNorm);
  g.node(
    'MatMulNBits',
    '/lm_head/MatMul_Q4',
    [hidden, lmHead.weight, lmHead.scales],
    [attrInt('K', hiddenSize), attrInt('N', vocab), attrInt('accuracy_level', 4), attrInt('bits', 4), attrInt('block_size', BLOCK)],
    'com.microsoft',
    ['logits'],
  );

  const kvShape = (length: string) => ['batch_size', nKvHeads, length, headDim];
  const inputs = [valueInfo('input_ids', DataType.INT64, ['batch_size', 'sequence_length']), valueInfo('attention_mask', DataType.INT64, ['batch_size', 'total_sequence_length'])];
  const outputs = [valueInfo('logits', DataType.FLOAT, ['batch_size', 'sequence_length', vocab])];
  for (let layer = 0; layer < nLayers; layer++) {
    for (const kind of ['key', 'value']) {
      inputs.push(valueInfo(`past_key_values.${layer}.${kind}`, DataType.FLOAT, kvShape('past_sequence_length')));
      outputs.push(valueInfo(`present.${layer}.${kind}`, DataType.FLOAT, kvShape('total_sequence_length')));
    }
  }
  const config: HfConfig & Record<string, unknown> = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: hiddenSize,
    intermediate_size: mlp,
    num_hidden_layers: nLayers,
    num_attention_heads: nHeads,
    num_key_value_heads: nKvHeads,
    head_dim: headDim,
    vocab_size: vocab,
    max_position_embeddings: positions,
    rms_norm_eps: RMS_EPS,
    rope_theta: ropeTheta,
    tie_word_embeddings: true,
    bos_token_id: BOS_ID,
    eos_token_id: EOS_ID,
  };
  const { tokenizerJson, tokenizerConfig } = llama2cTokenizerToHf(syntheticTokenizer(vocab), positions);
  // The builder states the attention outputs' shapes: a packed GroupQueryAttention's output is
  // narrower than its input, and the engine's splitter reads that width from here.
  const valueInfos = Array.from({ length: nLayers }, (_, layer) => valueInfo(`/model/layers.${layer}/attn/GroupQueryAttention/output_0`, DataType.FLOAT, ['batch_size', 'sequence_length', qWidth]));
  const model = proto.ModelProto.create({
    irVersion: 8,
    producerName: 'endless-chat shape model',
    opsetImport: [
      { domain: '', version: 17 },
      { domain: 'com.microsoft', version: 1 },
    ],
    graph: { name: 'main_graph', node: g.nodes, initializer: g.tensors.map(embeddedTensor), input: inputs, output: outputs, valueInfo: valueInfos },
  });
  return {
    model: proto.ModelProto.encode(model).finish(),
    externalData: [],
    config,
    tokenizerJson,
    tokenizerConfig,
    generationConfig: { eos_token_id: EOS_ID },
  };
}

/** cos/sin caches (positions, headDim / 2) of half-split RoPE, in float64 before rounding. */
function rotaryTables(positions: number, headDim: number, theta: number): { cos: Float32Array; sin: Float32Array } {
  const pairs = headDim / 2;
  const cos = new Float32Array(positions * pairs);
  const sin = new Float32Array(positions * pairs);
  for (let pos = 0; pos < positions; pos++) {
    for (let p = 0; p < pairs; p++) {
      const angle = pos * theta ** (-p / pairs);
      cos[pos * pairs + p] = Math.cos(angle);
      sin[pos * pairs + p] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

/** A vocabulary with llama2.c's specials and byte pieces, then made-up words that merge into nothing. */
function syntheticTokenizer(vocab: number) {
  const bytes = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
  const pieces = ['<unk>', '\n<s>\n', '\n</s>\n', ...bytes];
  while (pieces.length < vocab) pieces.push(` w${pieces.length.toString(36)}`);
  return { pieces: pieces.slice(0, vocab), scores: pieces.slice(0, vocab).map((_, i) => -i), maxTokenLength: 8 };
}
