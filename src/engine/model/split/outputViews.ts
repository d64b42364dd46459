// Segment outputs that a view op would copy. A Reshape (or Squeeze, Unsqueeze, Flatten, Identity)
// whose output is a graph output bound to the caller's buffer cannot alias its input, so
// onnxruntime's WebGPU EP runs it as a buffer copy; a captured graph replays only compute
// dispatches, so that copy runs once, at capture, and every replay hands on stale values (Qwen3's
// q/k norms end in such a Reshape). The same bytes are in the view's input: the segment writes that
// tensor under the output's name instead, in its own shape, and the copy is gone from every run.

import type { onnx } from 'onnx-proto';
import { constantOf, describe, tryWidth, type GraphView, valuesOf } from './graph.ts';

const VIEW_OPS = new Set(['Reshape', 'Squeeze', 'Unsqueeze', 'Flatten', 'Identity']);
/** Ops whose output has their first input's shape (the norms a per-head view feeds). */
const SHAPE_KEEPING_OPS = new Set(['SimplifiedLayerNormalization', 'LayerNormalization', 'RMSNormalization', 'Cast', 'Sigmoid', 'Neg', 'Sqrt']);

export interface SegmentPart {
  nodes: onnx.INodeProto[];
  inputs: Set<string>;
  outputs: Set<string>;
}

export interface OutputViews {
  /** Outputs now written in another shape, as per-token dims: [1, f, ...rest] is [1, n·f, ...rest]. */
  tokenShapes: Map<string, number[]>;
  /** Why a view stayed in place (its copy would not replay), if one did. */
  captureBlocker?: string;
}

/** Removes the views that end a segment's outputs, where the view's input can be written instead. */
export function dropOutputViews(part: SegmentPart, view: GraphView): OutputViews {
  const tokenShapes = new Map<string, number[]>();
  let captureBlocker: string | undefined;
  for (const output of part.outputs) {
    const viewNode = part.nodes.find((n) => n.output?.includes(output));
    if (!viewNode || !VIEW_OPS.has(viewNode.opType ?? '')) continue;
    const source = viewNode.input?.[0] ?? '';
    const producer = part.nodes.find((n) => n.output?.includes(source));
    const shape = tokenShape(source, view);
    const readInside = part.nodes.some((n) => n !== viewNode && n.input?.includes(output));
    const elements = (dims: number[]) => dims.reduce((a, b) => a * b, 1);
    if (!producer || producer.opType === 'Constant' || part.outputs.has(source) || readInside || !shape || elements(shape) !== tryWidth(output, view)) {
      captureBlocker ??= `output "${output}" is written by ${describe(viewNode)}, a copy that a captured graph does not replay`;
      continue;
    }
    const rename = (names: string[] | null | undefined) => (names ?? []).map((name) => (name === source ? output : name));
    part.nodes = part.nodes.filter((n) => n !== viewNode).map((n) => (n === producer ? { ...n, output: rename(n.output) } : n.input?.includes(source) ? { ...n, input: rename(n.input) } : n));
    tokenShapes.set(output, shape);
  }
  return { tokenShapes, captureBlocker };
}

/**
 * The per-token dims of a tensor of the dense path, [batch, seq, width] seen through a per-head
 * view: [1, 1, heads, headDim] for (batch, seq, heads, headDim), [1, heads, headDim] for
 * (batch, seq·heads, headDim) as the builder reshapes Qwen3's q/k for their norms.
 */
function tokenShape(tensor: string, view: GraphView): number[] | undefined {
  const known = view.tokenShapes.get(tensor);
  if (known) return known;
  const node = view.producer.get(tensor)?.node;
  const input = node?.input?.[0];
  if (!node || !input) return undefined;
  if (SHAPE_KEEPING_OPS.has(node.opType ?? '')) return tokenShape(input, view);
  if (node.opType !== 'Reshape') return undefined;
  const constant = constantOf(node.input?.[1], view);
  const dims = constant ? valuesOf(constant) : undefined;
  if (!dims || dims.length < 3 || (dims[0] !== 0 && dims[0] !== 1)) return undefined;
  const width = tryWidth(input, view);
  if (width === undefined) return undefined;
  // 0 right after the sequence axis copies the input's width; one -1 takes what the rest leave.
  const rest = dims.slice(2).map((d, i) => (d === 0 && i === 0 ? width : d));
  if (rest.some((d) => d === 0 || d < -1) || [dims[1], ...rest].filter((d) => d === -1).length > 1) return undefined;
  const fixed = rest.filter((d) => d > 0).reduce((a, b) => a * b, 1);
  if (width % fixed !== 0) return undefined;
  const left = width / fixed;
  // The sequence axis absorbs the heads (-1) or stays (0); a fixed length is not the dense path.
  if (dims[1] === -1) return [1, left, ...rest];
  if (dims[1] !== 0 || (!rest.includes(-1) && left !== 1)) return undefined;
  return [1, 1, ...rest.map((d) => (d === -1 ? left : d))];
}
