// com.microsoft GroupQueryAttention, as the onnxruntime-genai builder and onnx-community exports
// write it: q, k and v separate or packed into its first input; rotary inside the op (do_rotary
// with cos/sin caches) or in RotaryEmbedding nodes before it; Qwen3's q/k norms before it or fused
// into it (q_norm_weight / k_norm_weight inputs). Past KV, seqlens and masks go with the op.

import type { onnx } from 'onnx-proto';
import { attr, floatAttr, type GraphView } from './graph.ts';
import { perHeadNorm, refuser, rotaryNodes, splitPacked, type AddedNode, type FoundSite } from './sites.ts';

/** Inputs 10..13 of GroupQueryAttention, which change what it computes in ways the kernel does not. */
const UNSUPPORTED_INPUTS: Record<number, string> = { 10: 'an attention bias', 11: 'per-head attention sinks', 12: 'a quantized KV cache (k_scale)', 13: 'a quantized KV cache (v_scale)' };
const Q_NORM_INPUT = 14;
const K_NORM_INPUT = 15;
/** GroupQueryAttention's default qk_norm_epsilon. */
const QK_NORM_EPSILON = 1e-6;

export function gqaSite(node: onnx.INodeProto, layer: number, view: GraphView): FoundSite {
  const refuse = refuser(node, layer, 'GroupQueryAttention');
  const inputs = node.input ?? [];
  const out = node.output?.[0];
  if (!out) refuse('has no output');
  if ((floatAttr(node, 'softcap') ?? 0) !== 0) refuse('uses logit soft-capping, which the kernel does not implement');
  if ((attr(node, 'local_window_size') ?? -1) !== -1) refuse('has its own sliding window, which would conflict with the streaming cache');
  for (const [index, what] of Object.entries(UNSUPPORTED_INPUTS)) {
    if (inputs[Number(index)]) refuse(`uses ${what} (input ${index}, "${inputs[Number(index)]}"), which the attention kernel does not implement`);
  }
  const nHeads = attr(node, 'num_heads') ?? 0;
  const nKvHeads = attr(node, 'kv_num_heads') ?? 0;
  if (nHeads < 1 || nKvHeads < 1) refuse('does not state its head counts');

  const added: AddedNode[] = [];
  const replaced: onnx.INodeProto[] = [node];
  let [q, k, v] = inputs;
  let headSize: number;
  if (!k && !v) {
    // Packed QKV: one projection [batch, seq, (H + 2 Hkv) d] feeds the op, which splits it.
    if (!q) refuse('has no query input');
    headSize = view.width(q) / (nHeads + 2 * nKvHeads);
    if (!Number.isInteger(headSize)) refuse(`packs q, k and v in a width (${view.width(q)}) that ${nHeads} + 2 x ${nKvHeads} heads do not divide`);
    const split = splitPacked(q, node.name || `gqa_${layer}`, [nHeads * headSize, nKvHeads * headSize, nKvHeads * headSize], view);
    [q, k, v] = split.tensors;
    added.push(split.added);
  } else {
    if (!q || !k || !v) refuse('has only some of its query, key and value inputs');
    headSize = view.width(q) / nHeads;
  }

  let rotary: { cos?: string; sin?: string; interleaved: boolean };
  if (attr(node, 'do_rotary') === 1) {
    rotary = { cos: inputs[7], sin: inputs[8], interleaved: attr(node, 'rotary_interleaved') === 1 };
  } else {
    const found = rotaryNodes(q, k, view, refuse);
    rotary = found;
    [q, k] = [found.q, found.k];
    replaced.push(...found.nodes);
  }

  const [qNorm, kNorm] = [inputs[Q_NORM_INPUT], inputs[K_NORM_INPUT]];
  if (Boolean(qNorm) !== Boolean(kNorm)) refuse('normalises only one of q and k');
  if (qNorm && kNorm) {
    // The op normalises each head before rotating it; the dense segment does the same instead.
    const epsilon = floatAttr(node, 'qk_norm_epsilon') ?? QK_NORM_EPSILON;
    const prefix = node.name || `gqa_${layer}`;
    const normedQ = perHeadNorm(q, qNorm, epsilon, nHeads, headSize, `${prefix}/q_norm`, view);
    const normedK = perHeadNorm(k, kNorm, epsilon, nKvHeads, headSize, `${prefix}/k_norm`, view);
    [q, k] = [normedQ.tensor, normedK.tensor];
    added.push(...normedQ.added, ...normedK.added);
  }

  const cos = rotary.cos ? view.initializers.get(rotary.cos) : undefined;
  if (!cos?.dims || cos.dims.length !== 2) refuse('has no constant cos cache, so its rotary dimension is unknown');
  return {
    site: {
      layer, q, k, v, out: out!, nHeads, nKvHeads, headSize, scale: floatAttr(node, 'scale') ?? 0,
      rotaryInterleaved: rotary.interleaved, rotaryPairs: Number(cos!.dims![1]),
      rotaryTables: rotary.sin ? { cos: rotary.cos!, sin: rotary.sin } : undefined,
    },
    nodes: replaced,
    added,
  };
}
