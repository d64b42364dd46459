// Lookups over a decoder graph that every attention recogniser and the segmenter share: who
// produces and reads each tensor, the values of small constants, and the last dimension ("width")
// of the tensors that cross segment boundaries.

// onnx-proto is CommonJS: Node's ESM loader only sees its default export.
import onnxProto, { type onnx } from 'onnx-proto';
import { EngineError } from '../../../protocol/errors.ts';

export const { ModelProto, GraphProto, TensorProto } = onnxProto.onnx;
export const ElemType = TensorProto.DataType;
export const MS_DOMAIN = 'com.microsoft';

/** Ops whose output has the width of their first input. */
const FIRST_INPUT_WIDTH_OPS = new Set([
  'Sigmoid', 'Cast', 'Relu', 'Tanh', 'Softplus', 'Identity', 'Erf', 'Neg', 'Sqrt', 'Gelu', 'FastGelu', 'QuickGelu',
  'SimplifiedLayerNormalization', 'LayerNormalization', 'SkipSimplifiedLayerNormalization', 'SkipLayerNormalization',
  'RotaryEmbedding', 'GroupQueryAttention', 'MultiHeadAttention',
]);
/** Broadcasting binary ops: the widest input wins. */
const BROADCAST_OPS = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'BiasGelu']);
/** Ops that read only the shape of their input: bias and mask cones do not look through them. */
const SHAPE_ONLY_OPS = new Set(['Shape', 'Size']);

export interface NodeInfo {
  node: onnx.INodeProto;
  index: number;
}

/** Lookups over the graph shared by every search. */
export interface GraphView {
  producer: Map<string, NodeInfo>;
  consumers: Map<string, onnx.INodeProto[]>;
  initializers: Map<string, onnx.ITensorProto>;
  graphInputs: Set<string>;
  width: (name: string) => number;
  /** Widths known from the attention sites, for tensors the op-by-op inference cannot follow. */
  knownWidths: Map<string, number>;
  /** Per-head tensors whose shape the recognisers know, as per-token dims (see outputViews.ts). */
  tokenShapes: Map<string, number[]>;
}

export function graphView(graph: onnx.IGraphProto, nodes: onnx.INodeProto[]): GraphView & { addNode(node: onnx.INodeProto, index: number): void } {
  const producer = new Map<string, NodeInfo>();
  const consumers = new Map<string, onnx.INodeProto[]>();
  const addNode = (node: onnx.INodeProto, index: number) => {
    node.output?.forEach((o) => o && producer.set(o, { node, index }));
    node.input?.forEach((i) => i && consumers.set(i, [...(consumers.get(i) ?? []), node]));
  };
  nodes.forEach(addNode);
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const graphInputs = new Set((graph.input ?? []).map((i) => i.name ?? ''));
  const knownWidths = new Map<string, number>();
  const width = widthInference(producer, initializers, graph, knownWidths);
  return { producer, consumers, initializers, graphInputs, width, knownWidths, tokenShapes: new Map(), addNode };
}

/**
 * Sets MatMulNBits to accuracy_level 1: float activations on the int4 weights. The builder writes
 * level 4, which lets onnxruntime quantize activations to int8 (WebGPU's dp4a path for prefill,
 * native CPU always): up to 0.1 nats off, and a prefill that disagrees with token-by-token decode.
 */
export function useFloatActivations(nodes: onnx.INodeProto[]): void {
  for (const node of nodes) {
    if (node.opType !== 'MatMulNBits' || node.domain !== MS_DOMAIN) continue;
    const level = (node.attribute ?? []).find((a) => a.name === 'accuracy_level');
    if (level) level.i = 1;
  }
}

/** Axis -1 or 3: the head dim of a (batch, heads, seq, headDim) tensor. */
export function isLastAxis(axis: number | undefined): boolean {
  return axis === -1 || axis === 3;
}

/** First node in the backward cone of `start` (not looking through shape reads) that matches. */
export function walkCone(start: string, view: GraphView, match: (node: onnx.INodeProto) => boolean): onnx.INodeProto | undefined {
  const seen = new Set<string>();
  const stack = [start];
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (seen.has(t)) continue;
    seen.add(t);
    const node = view.producer.get(t)?.node;
    if (!node) continue;
    if (match(node)) return node;
    if (!SHAPE_ONLY_OPS.has(node.opType ?? '')) stack.push(...(node.input ?? []).filter(Boolean));
  }
  return undefined;
}

/** The nearest node up the first-input chain from `start` (a few steps) that matches. */
export function findBack(start: string, view: GraphView, match: (node: onnx.INodeProto) => boolean): onnx.INodeProto | undefined {
  let t = start;
  for (let step = 0; step < 8; step++) {
    const node = view.producer.get(t)?.node;
    if (!node) return undefined;
    if (match(node)) return node;
    // A decomposed norm multiplies a weight by the normalised input: follow the computed operand.
    t = (node.input ?? []).find((i) => i && !constantOf(i, view)) ?? '';
  }
  return undefined;
}

export function soleConsumer(tensor: string, view: GraphView): onnx.INodeProto | undefined {
  const readers = view.consumers.get(tensor) ?? [];
  return readers.length === 1 ? readers[0] : undefined;
}

export function describe(node: onnx.INodeProto | undefined): string {
  if (!node) return 'several nodes or none';
  return node.name ? `${node.opType} "${node.name}"` : `a ${node.opType} node`;
}

/** An integer attribute, or undefined when the node does not set it. */
export function attr(node: onnx.INodeProto, name: string): number | undefined {
  const a = (node.attribute ?? []).find((x) => x.name === name);
  return a ? Number(a.i ?? 0) : undefined;
}

export function floatAttr(node: onnx.INodeProto, name: string): number | undefined {
  const a = (node.attribute ?? []).find((x) => x.name === name);
  return a ? (a.f ?? 0) : undefined;
}

export function tryWidth(tensor: string, view: GraphView): number | undefined {
  try {
    return view.width(tensor);
  } catch {
    return undefined;
  }
}

/** The tensor behind a name when it is an initializer or a Constant node's output. */
export function constantOf(name: string | undefined, view: Pick<GraphView, 'producer' | 'initializers'>): onnx.ITensorProto | undefined {
  if (!name) return undefined;
  const init = view.initializers.get(name);
  if (init) return init;
  const node = view.producer.get(name)?.node;
  if (node?.opType !== 'Constant') return undefined;
  const a = node.attribute?.[0];
  if (!a) return undefined;
  if (a.t) return a.t;
  if (a.name === 'value_float') return { dataType: ElemType.FLOAT, dims: [], floatData: [a.f ?? 0] };
  if (a.name === 'value_floats') return { dataType: ElemType.FLOAT, dims: [a.floats?.length ?? 0], floatData: a.floats ?? [] };
  if (a.name === 'value_int') return { dataType: ElemType.INT64, dims: [], int64Data: [a.i ?? 0] };
  if (a.name === 'value_ints') return { dataType: ElemType.INT64, dims: [a.ints?.length ?? 0], int64Data: a.ints ?? [] };
  return undefined;
}

export function elementCount(t: onnx.ITensorProto): number {
  return (t.dims ?? []).reduce<number>((n, d) => n * Number(d), 1);
}

export function isFloat(dataType: number): boolean {
  return dataType === ElemType.FLOAT || dataType === ElemType.FLOAT16 || dataType === ElemType.DOUBLE || dataType === ElemType.BFLOAT16;
}

/** The values of a small constant held in the model itself (not in external data). */
export function valuesOf(t: onnx.ITensorProto): number[] | undefined {
  const raw = t.rawData;
  const type = t.dataType ?? 0;
  if (raw && raw.byteLength > 0) return Array.from(decodeValues(raw, type) ?? []);
  if (t.floatData?.length) return t.floatData;
  if (t.doubleData?.length) return t.doubleData;
  if (t.int64Data?.length) return t.int64Data.map(Number);
  if (t.int32Data?.length) return type === ElemType.FLOAT16 ? t.int32Data.map(halfToFloat) : t.int32Data;
  return undefined;
}

/** Little-endian tensor bytes as numbers, for the element types decoder constants use. */
export function decodeValues(raw: Uint8Array, dataType: number): ArrayLike<number> | undefined {
  const bytes = new Uint8Array(raw); // an aligned copy (raw_data views sit at any offset; Buffer.slice would not copy)
  switch (dataType) {
    case ElemType.FLOAT: return new Float32Array(bytes.buffer);
    case ElemType.DOUBLE: return new Float64Array(bytes.buffer);
    case ElemType.INT64: return Array.from(new BigInt64Array(bytes.buffer), Number);
    case ElemType.INT32: return new Int32Array(bytes.buffer);
    case ElemType.FLOAT16: return Array.from(new Uint16Array(bytes.buffer), halfToFloat);
    default: return undefined;
  }
}

export function scalarOf(name: string | undefined, view: GraphView): number | undefined {
  const t = constantOf(name, view);
  if (!t || elementCount(t) !== 1) return undefined;
  return valuesOf(t)?.[0];
}

/**
 * int64 values of a shape-like tensor: a constant, or a Concat of constants and unsqueezed
 * dynamic scalars (read as -1), as TorchScript spells view(bsz, q_len, heads, head_dim).
 */
export function intsOf(name: string | undefined, view: Pick<GraphView, 'producer' | 'initializers'>): number[] | undefined {
  const constant = constantOf(name, view);
  if (constant) return valuesOf(constant);
  const node = name ? view.producer.get(name)?.node : undefined;
  if (node?.opType === 'Cast') return intsOf(node.input![0], view);
  if (node?.opType !== 'Concat') return undefined;
  const parts = (node.input ?? []).map((i) => intsOf(i, view) ?? (view.producer.get(i)?.node.opType === 'Unsqueeze' ? [-1] : undefined));
  return parts.every(Boolean) ? parts.flatMap((p) => p!) : undefined;
}

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/**
 * Shape of a tensor computed from constants alone (a weight, possibly reshaped or transposed, as
 * tied embeddings read the LM head's weight), and the element type of the weight behind it.
 */
function constantShape(name: string, producer: Map<string, NodeInfo>, initializers: Map<string, onnx.ITensorProto>): { dims: number[]; dataType: number } | undefined {
  const init = initializers.get(name);
  if (init) return { dims: (init.dims ?? []).map(Number), dataType: init.dataType ?? 0 };
  const node = producer.get(name)?.node;
  const source = node?.input?.[0] ? constantShape(node.input[0], producer, initializers) : undefined;
  if (!node || !source) return undefined;
  if (node.opType === 'Transpose') {
    const perm = (node.attribute ?? []).find((a) => a.name === 'perm')?.ints?.map(Number) ?? source.dims.map((_, i) => source.dims.length - 1 - i);
    return { dims: perm.map((p) => source.dims[p]), dataType: source.dataType };
  }
  if (node.opType === 'Reshape') {
    const shape = intsOf(node.input?.[1], { producer, initializers });
    if (!shape || shape.some((d) => d < 0)) return undefined;
    return { dims: shape.map((d, i) => (d === 0 ? source.dims[i] : d)), dataType: source.dataType };
  }
  if (node.opType === 'Cast' || node.opType === 'Identity') return source;
  return undefined;
}

/** Last-dimension inference for the ops decoder graphs use between attention sites. */
function widthInference(
  producer: Map<string, NodeInfo>,
  initializers: Map<string, onnx.ITensorProto>,
  graph: onnx.IGraphProto,
  memo: Map<string, number>,
): (name: string) => number {
  for (const vi of [...(graph.valueInfo ?? []), ...(graph.input ?? []), ...(graph.output ?? [])]) {
    const dims = vi.type?.tensorType?.shape?.dim;
    const last = dims?.[dims.length - 1]?.dimValue;
    if (vi.name && last !== undefined && last !== null && Number(last) > 0) memo.set(vi.name, Number(last));
  }
  const width = (name: string): number => {
    const known = memo.get(name);
    if (known !== undefined) return known;
    const init = initializers.get(name);
    let result: number | undefined;
    if (init) {
      const dims = (init.dims ?? []).map(Number);
      result = dims.length === 0 ? 1 : dims[dims.length - 1];
    } else {
      const node = producer.get(name)?.node;
      if (!node) throw new EngineError('MODEL_UNSUPPORTED', `Cannot tell the width of tensor "${name}": nothing produces it.`);
      const inputs = (node.input ?? []).filter(Boolean);
      const op = node.opType ?? '';
      if (op === 'MatMul') result = width(inputs[1]);
      else if (op === 'MatMulNBits') result = attr(node, 'N') || undefined;
      else if (op === 'Gather') {
        const data = constantShape(inputs[0], producer, initializers);
        result = data?.dims.length === 2 ? data.dims[1] : undefined;
      } else if (op === 'GatherBlockQuantized') {
        // Rows of 4-bit weights packed two to a byte in uint8: the embedding is twice as wide.
        const data = constantShape(inputs[0], producer, initializers);
        const bits = attr(node, 'bits') ?? 4;
        const quantizeAxis = attr(node, 'quantize_axis') ?? 1;
        const packed = data?.dataType === ElemType.UINT8 ? 8 / bits : 1;
        if (data?.dims.length === 2 && (quantizeAxis === 1 || quantizeAxis === -1)) result = data.dims[1] * packed;
      } else if (op === 'Split') {
        // The width of the output asked for: its entry in the split sizes along the last axis.
        const axis = attr(node, 'axis') ?? 0;
        const sizes = intsOf(node.input?.[1], { producer, initializers });
        const which = (node.output ?? []).indexOf(name);
        if (axis === -1 && sizes) result = sizes[which];
        else if (axis === -1 && !node.input?.[1]) result = width(inputs[0]) / (node.output?.length ?? 1);
      } else if (op === 'Reshape') {
        // A constant shape states the last dim (0 copies the input's).
        const last = intsOf(inputs[1], { producer, initializers })?.at(-1);
        result = last === 0 ? width(inputs[0]) : last !== undefined && last > 0 ? last : undefined;
      } else if (FIRST_INPUT_WIDTH_OPS.has(op)) result = width(inputs[0]);
      else if (BROADCAST_OPS.has(op)) result = Math.max(...inputs.map(width));
      if (result === undefined) {
        throw new EngineError('MODEL_UNSUPPORTED', `Cannot tell the width of tensor "${name}" produced by ${op}; this graph form is not supported.`);
      }
    }
    memo.set(name, result);
    return result;
  };
  return width;
}
