// Widens a float16 ONNX graph to float32 at load time, for WebGPU devices without shader-f16.

// onnx-proto is CommonJS: Node's ESM loader only sees its default export.
import onnxProto, { type onnx } from 'onnx-proto';
import { EngineError } from '../../protocol/errors.ts';

const { ModelProto, TensorProto, AttributeProto } = onnxProto.onnx;
const { FLOAT, FLOAT16 } = TensorProto.DataType;
const { EXTERNAL } = TensorProto.DataLocation;
const AttributeType = AttributeProto.AttributeType;

export interface OnnxFiles {
  /** Encoded ModelProto. */
  model: Uint8Array;
  /** The files its initializers name as external data (`externalData` in session options). */
  externalData: { path: string; data: Uint8Array }[];
}

/** External data file holding every widened initializer. */
export const WIDENED_DATA_PATH = 'widened-float32.bin';
/** Offset alignment of tensors in the widened file: any tensor can be viewed in place as a Float32Array. */
const ALIGNMENT = 64;

/**
 * Element-type attributes of standard ops, by op and attribute name. Any other attribute that
 * looks like an element type and says FLOAT16 belongs to an op whose meaning we do not know.
 */
const DTYPE_ATTRIBUTES: Record<string, string> = {
  Cast: 'to',
  EyeLike: 'dtype',
  RandomNormal: 'dtype',
  RandomUniform: 'dtype',
  RandomNormalLike: 'dtype',
  RandomUniformLike: 'dtype',
  Bernoulli: 'dtype',
  DequantizeLinear: 'output_dtype',
};
const DTYPE_LIKE_NAME = /^to$|type$/;

/** One place where the graph holds or produces float16. */
type Float16Site =
  | { kind: 'initializer'; tensor: onnx.ITensorProto }
  | { kind: 'constant'; tensor: onnx.ITensorProto }
  | { kind: 'type'; holder: { elemType?: number | null } }
  | { kind: 'dtype'; attribute: onnx.IAttributeProto }
  | { kind: 'unsupported'; what: string };

/** Whether the graph computes in float16 anywhere (I/O, initializers, Casts, constants). */
export function usesFloat16(model: Uint8Array): boolean {
  return float16Sites(decode(model)).length > 0;
}

/**
 * The same decoder computing in float32: every float16 initializer, constant, Cast target and
 * graph input, output and value_info becomes float32 with its values converted exactly. Widened
 * initializers go to one new external data file (WIDENED_DATA_PATH), appended to `externalData`;
 * every other initializer still points at its original bytes, which are neither copied nor changed.
 * A graph without float16 comes back as given.
 */
export function widenFloat16(files: OnnxFiles): OnnxFiles {
  const model = decode(files.model);
  const sites = float16Sites(model);
  if (sites.length === 0) return files;
  const unsupported = sites.filter((s) => s.kind === 'unsupported').map((s) => s.what);
  if (unsupported.length > 0) {
    throw new EngineError(
      'MODEL_UNSUPPORTED',
      `This model computes in float16 in a way that cannot be turned into float32 (${unsupported[0]}); ` +
        'choose a float32 (q4 or fp32) build of the model, or a device whose WebGPU supports shader-f16.',
      unsupported.join('; '),
    );
  }

  const external = new Map(files.externalData.map((f) => [normalisePath(f.path), f.data]));
  const offsets = new Map<onnx.ITensorProto, number>();
  let size = 0;
  for (const site of sites) {
    if (site.kind !== 'initializer') continue;
    offsets.set(site.tensor, size);
    size += alignUp(elementCount(site.tensor) * 4);
  }
  // (widened elements, padded to ALIGNMENT) float32 bytes
  const widened = new Uint8Array(size);

  for (const site of sites) {
    switch (site.kind) {
      case 'initializer': {
        const offset = offsets.get(site.tensor)!;
        const n = elementCount(site.tensor);
        widenInto(float16Bits(site.tensor, external), new Uint32Array(widened.buffer, offset, n));
        setData(site.tensor, {
          dataLocation: EXTERNAL,
          externalData: [
            { key: 'location', value: WIDENED_DATA_PATH },
            { key: 'offset', value: String(offset) },
            { key: 'length', value: String(n * 4) },
          ],
        });
        break;
      }
      case 'constant': {
        const bits = float16Bits(site.tensor, external);
        const values = new Uint8Array(bits.length * 4);
        widenInto(bits, new Uint32Array(values.buffer));
        setData(site.tensor, { rawData: values });
        break;
      }
      case 'type':
        site.holder.elemType = FLOAT;
        break;
      case 'dtype':
        site.attribute.i = FLOAT;
        break;
    }
  }

  return {
    model: ModelProto.encode(model).finish(),
    externalData: [...files.externalData, { path: WIDENED_DATA_PATH, data: widened }],
  };
}

function decode(bytes: Uint8Array): onnx.ModelProto {
  try {
    return ModelProto.decode(bytes);
  } catch (e) {
    throw new EngineError('MODEL_CORRUPT', 'The model file is not a readable ONNX model; delete it and download it again.', String(e));
  }
}

/** Every float16 site of the model, subgraphs and local functions included. */
function float16Sites(model: onnx.IModelProto): Float16Site[] {
  const sites: Float16Site[] = [];
  const visitType = (type: onnx.ITypeProto | null | undefined) => {
    if (!type) return;
    for (const holder of [type.tensorType, type.sparseTensorType]) {
      if (holder?.elemType === FLOAT16) sites.push({ kind: 'type', holder });
    }
    visitType(type.sequenceType?.elemType);
    visitType(type.mapType?.valueType);
    visitType(type.optionalType?.elemType);
  };
  const visitSparse = (tensor: onnx.ISparseTensorProto, where: string) => {
    if (tensor.values?.dataType === FLOAT16) sites.push({ kind: 'unsupported', what: `sparse float16 tensor ${where}` });
  };
  const visitNodes = (nodes: onnx.INodeProto[] | null | undefined) => {
    for (const node of nodes ?? []) {
      const where = `in ${node.opType} node "${node.name ?? ''}"`;
      const standard = !node.domain || node.domain === 'ai.onnx';
      for (const a of node.attribute ?? []) {
        for (const t of [a.t, ...(a.tensors ?? [])]) if (t?.dataType === FLOAT16) sites.push({ kind: 'constant', tensor: t });
        for (const g of [a.g, ...(a.graphs ?? [])]) if (g) visitGraph(g);
        for (const s of [a.sparseTensor, ...(a.sparseTensors ?? [])]) if (s) visitSparse(s, where);
        for (const tp of [a.tp, ...(a.typeProtos ?? [])]) visitType(tp);
        if (a.type !== AttributeType.INT || Number(a.i ?? 0) !== FLOAT16 || !DTYPE_LIKE_NAME.test(a.name ?? '')) continue;
        if (standard && DTYPE_ATTRIBUTES[node.opType ?? ''] === a.name) sites.push({ kind: 'dtype', attribute: a });
        else sites.push({ kind: 'unsupported', what: `attribute ${a.name} = FLOAT16 ${where}, whose meaning is unknown` });
      }
    }
  };
  const visitGraph = (graph: onnx.IGraphProto) => {
    for (const t of graph.initializer ?? []) if (t.dataType === FLOAT16) sites.push({ kind: 'initializer', tensor: t });
    for (const s of graph.sparseInitializer ?? []) visitSparse(s, `"${s.values?.name ?? ''}" among the initializers`);
    for (const v of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])]) visitType(v.type);
    visitNodes(graph.node);
  };
  if (model.graph) visitGraph(model.graph);
  for (const f of model.functions ?? []) visitNodes(f.node);
  return sites;
}

/** The float16 bit patterns of a tensor, wherever it keeps them. */
function float16Bits(tensor: onnx.ITensorProto, external: Map<string, Uint8Array>): Uint16Array {
  const n = elementCount(tensor);
  const corrupt = (why: string): never => {
    throw new EngineError('MODEL_CORRUPT', `The model's tensor "${tensor.name ?? ''}" ${why}; delete the model and download it again.`);
  };
  let bytes: Uint8Array;
  if (tensor.dataLocation === EXTERNAL) {
    const entry = new Map((tensor.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
    const location = normalisePath(entry.get('location') ?? '');
    const file = external.get(location);
    if (!file) return corrupt(`needs the external data file "${location}", which is missing`);
    const offset = Number(entry.get('offset') ?? 0);
    const length = Number(entry.get('length') ?? n * 2);
    if (length !== n * 2 || offset + length > file.byteLength) return corrupt(`lies outside its external data file "${location}"`);
    bytes = file.subarray(offset, offset + length);
  } else if (tensor.rawData && tensor.rawData.byteLength > 0) {
    bytes = tensor.rawData;
  } else {
    // Without raw_data, ONNX stores each float16 as the low 16 bits of an int32_data entry.
    if ((tensor.int32Data?.length ?? 0) !== n) return corrupt('holds fewer values than its shape says');
    return Uint16Array.from(tensor.int32Data!);
  }
  if (bytes.byteLength !== n * 2) return corrupt('holds fewer values than its shape says');
  // Uint16Array needs an even byte offset; raw_data and external tensors may sit at any offset.
  const aligned = bytes.byteOffset % 2 === 0 ? bytes : bytes.slice();
  return new Uint16Array(aligned.buffer, aligned.byteOffset, n);
}

/** Replaces a tensor's float16 payload with float32 data, leaving name and shape as they are. */
function setData(tensor: onnx.ITensorProto, data: Pick<onnx.ITensorProto, 'rawData' | 'dataLocation' | 'externalData'>): void {
  tensor.dataType = FLOAT;
  tensor.rawData = data.rawData ?? new Uint8Array(0);
  tensor.int32Data = [];
  tensor.dataLocation = data.dataLocation ?? TensorProto.DataLocation.DEFAULT;
  tensor.externalData = data.externalData ?? [];
}

let float32BitsOfHalf: Uint32Array | undefined;

/** float16 -> float32, exactly (every float16 is a float32), NaN payloads and signed zeros kept. */
function widenInto(half: Uint16Array, out: Uint32Array): void {
  // A 256 KiB table: one lookup per element, as fast as a copy for the gigabytes of a real model.
  const table = (float32BitsOfHalf ??= Uint32Array.from({ length: 0x10000 }, (_, h) => float32BitsOf(h)));
  for (let i = 0; i < half.length; i++) out[i] = table[half[i]];
}

function float32BitsOf(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0x1f) return sign | 0x7f800000 | (mantissa << 13);
  if (exponent > 0) return sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  if (mantissa === 0) return sign;
  // A subnormal float16 (mantissa * 2^-24) is a normal float32: shift its leading 1 into the implicit bit.
  let shifted = mantissa;
  let biased = 127 - 14;
  while ((shifted & 0x400) === 0) {
    shifted <<= 1;
    biased--;
  }
  return sign | (biased << 23) | ((shifted & 0x3ff) << 13);
}

function elementCount(tensor: onnx.ITensorProto): number {
  return (tensor.dims ?? []).reduce<number>((n, d) => n * Number(d), 1);
}

function alignUp(bytes: number): number {
  return Math.ceil(bytes / ALIGNMENT) * ALIGNMENT;
}

function normalisePath(path: string): string {
  return path.replace(/^\.\//, '');
}
