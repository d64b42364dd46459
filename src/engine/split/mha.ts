// com.microsoft MultiHeadAttention fed by RotaryEmbedding nodes, the older onnxruntime-genai builder
// form (with a position_ids input): q, k and v in separate [batch, seq, width] inputs, a causal
// attention bias built from the mask, past key and value. Heads of k and v may be fewer than q's.

import type { onnx } from 'onnx-proto';
import { attr, floatAttr, type GraphView } from './graph.ts';
import { refuser, rotaryNodes, type FoundSite } from './sites.ts';

/** Inputs of MultiHeadAttention the kernel's attention does not compute with. */
const UNSUPPORTED_INPUTS: Record<number, string> = { 3: 'a packed q/k/v bias', 4: 'a key padding mask' };

export function mhaSite(node: onnx.INodeProto, layer: number, view: GraphView): FoundSite {
  const refuse = refuser(node, layer, 'MultiHeadAttention');
  const inputs = node.input ?? [];
  const out = node.output?.[0];
  if (!out) refuse('has no output');
  for (const [index, what] of Object.entries(UNSUPPORTED_INPUTS)) {
    if (inputs[Number(index)]) refuse(`uses ${what} (input ${index}), which the attention kernel does not implement`);
  }
  if ((floatAttr(node, 'softcap') ?? 0) !== 0) refuse('uses logit soft-capping, which the kernel does not implement');
  const nHeads = attr(node, 'num_heads') ?? 0;
  if (nHeads < 1) refuse('does not state its head count');
  const [query, key, v] = inputs;
  if (!query || !key || !v) refuse('takes packed or cross-attention inputs instead of separate q, k and v');
  const rotary = rotaryNodes(query, key, view, refuse);
  const headSize = view.width(rotary.q) / nHeads;
  const nKvHeads = view.width(rotary.k) / headSize;
  if (!Number.isInteger(headSize) || !Number.isInteger(nKvHeads) || view.width(v) !== view.width(rotary.k)) {
    refuse(`has q, k and v widths (${view.width(rotary.q)}, ${view.width(rotary.k)}, ${view.width(v)}) that ${nHeads} heads do not divide evenly`);
  }
  const cos = view.initializers.get(rotary.cos ?? '');
  if (!cos?.dims || cos.dims.length !== 2) refuse('has no constant cos cache, so its rotary dimension is unknown');
  return {
    site: {
      layer, q: rotary.q, k: rotary.k, v, out: out!, nHeads, nKvHeads, headSize, scale: floatAttr(node, 'scale') ?? 0,
      rotaryInterleaved: rotary.interleaved, rotaryPairs: Number(cos!.dims![1]),
      rotaryTables: rotary.sin ? { cos: rotary.cos, sin: rotary.sin } : undefined,
    },
    nodes: [node, ...rotary.nodes],
    added: [],
  };
}
