// What an attention recogniser reports, in the kernel's terms, and the small graph edits the
// recognisers share: splitting a packed QKV projection, applying a per-head q/k norm that a fused
// op would have applied, and reading rotary settings from RotaryEmbedding nodes.

import type { onnx } from 'onnx-proto';
import { EngineError } from '../../protocol/errors.ts';
import { attr, describe, ElemType, type GraphView } from './graph.ts';

/** One attention site of the graph, in the kernel's terms. Tensors are [batch, seq, width]. */
export interface AttentionSite {
  layer: number;
  /** Pre-RoPE query, key and value tensors: the kernel's inputs. */
  q: string;
  k: string;
  v: string;
  /** The attention output the rest of the graph consumes (o_proj's input). */
  out: string;
  nHeads: number;
  nKvHeads: number;
  headSize: number;
  /** Softmax scale; 0 when the graph leaves it to the default 1/sqrt(headSize). */
  scale: number;
  rotaryInterleaved: boolean;
  /** Rotating pairs per head in the graph (cos/sin cache columns). */
  rotaryPairs: number;
  /** The graph's own cos/sin tables [positions, pairs] (initializers), where it has them. */
  rotaryTables?: { cos: string; sin: string };
}

/** A node the splitter adds to a segment, with the constants it reads. */
export interface AddedNode {
  node: onnx.INodeProto;
  initializers: onnx.ITensorProto[];
}

export interface FoundSite {
  site: AttentionSite;
  /** Nodes the kernel replaces that the dense part would otherwise reach from o_proj. */
  nodes: onnx.INodeProto[];
  /** Nodes the splitter adds (splitting packed QKV, per-head norms), with their constants. */
  added: AddedNode[];
}

export type Refuse = (why: string) => never;

/** A refusal naming the attention node, as every recogniser words it. */
export function refuser(node: onnx.INodeProto, layer: number, fallbackName: string): Refuse {
  return (why) => {
    throw new EngineError('MODEL_UNSUPPORTED', `Attention layer ${layer} (${node.name || fallbackName}) ${why}`);
  };
}

const int64Constant = (name: string, values: number[]): onnx.ITensorProto => ({ name, dims: [values.length], dataType: ElemType.INT64, int64Data: values });

/** Splits a packed [batch, seq, (H + 2 Hkv) d] projection into q, k and v along its last axis. */
export function splitPacked(packed: string, prefix: string, widths: [number, number, number], view: GraphView): { tensors: [string, string, string]; added: AddedNode } {
  const sizes = `${prefix}/endless.split.qkv_sizes`;
  const tensors: [string, string, string] = [`${prefix}/endless.q`, `${prefix}/endless.k`, `${prefix}/endless.v`];
  tensors.forEach((t, i) => view.knownWidths.set(t, widths[i]));
  return {
    tensors,
    added: {
      node: { opType: 'Split', name: `${prefix}/endless.SplitQkv`, input: [packed, sizes], output: tensors, attribute: [{ name: 'axis', type: 2, i: -1 }] },
      initializers: [int64Constant(sizes, widths)],
    },
  };
}

/**
 * RMS-normalises each head of x [batch, seq, heads * headDim] with a [headDim] weight, as
 * GroupQueryAttention does with its q/k norm inputs (Qwen3): Reshape, SimplifiedLayerNormalization
 * over the head dim, Reshape back.
 */
export function perHeadNorm(x: string, weight: string, epsilon: number, heads: number, headDim: number, prefix: string, view: GraphView): { tensor: string; added: AddedNode[] } {
  const [split, merged] = [`${prefix}/endless.head_shape`, `${prefix}/endless.merged_shape`];
  const [perHead, normed, out] = [`${prefix}/endless.per_head`, `${prefix}/endless.normed`, `${prefix}/endless.merged`];
  view.knownWidths.set(out, heads * headDim);
  return {
    tensor: out,
    added: [
      { node: { opType: 'Reshape', name: `${prefix}/endless.SplitHeads`, input: [x, split], output: [perHead] }, initializers: [int64Constant(split, [0, 0, heads, headDim])] },
      {
        node: {
          opType: 'SimplifiedLayerNormalization',
          name: `${prefix}/endless.HeadNorm`,
          input: [perHead, weight],
          output: [normed],
          attribute: [
            { name: 'axis', type: 2, i: -1 },
            { name: 'epsilon', type: 1, f: epsilon },
            { name: 'stash_type', type: 2, i: 1 },
          ],
        },
        initializers: [],
      },
      { node: { opType: 'Reshape', name: `${prefix}/endless.MergeHeads`, input: [normed, merged], output: [out] }, initializers: [int64Constant(merged, [0, 0, heads * headDim])] },
    ],
  };
}

/** q and k behind a pair of com.microsoft RotaryEmbedding nodes: their inputs, layout and tables. */
export function rotaryNodes(query: string, key: string, view: GraphView, refuse: Refuse) {
  const rq = view.producer.get(query)?.node;
  const rk = view.producer.get(key)?.node;
  if (rq?.opType !== 'RotaryEmbedding' || rk?.opType !== 'RotaryEmbedding') {
    return refuse('applies no rotary embedding this runtime recognises (neither do_rotary nor RotaryEmbedding nodes)');
  }
  const [q, , cos, sin] = rq.input ?? [];
  const layout = (n: onnx.INodeProto) => `${attr(n, 'interleaved') ?? 0}/${attr(n, 'rotary_embedding_dim') ?? 0}/${n.input?.[2]}`;
  if (layout(rq) !== layout(rk)) refuse(`rotates q and k differently (${describe(rq)} and ${describe(rk)})`);
  return { q, k: rk.input![0], cos, sin, interleaved: attr(rq, 'interleaved') === 1, nodes: [rq, rk] };
}
