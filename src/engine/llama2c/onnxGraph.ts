// Building an ONNX graph node by node, as the llama2.c exporter (onnxExport.ts) and the lab's other
// export forms (lab/onnxExportForms.ts) both do: nodes in the order added, initializers named once,
// attribute and value-info helpers, and the encoded model.

import onnxProto from 'onnx-proto';
import type { onnx } from 'onnx-proto';

// onnx-proto is CommonJS: only its default export survives Node's native ESM loader (tsx tools).
export const proto = onnxProto.onnx;
export const DataType = proto.TensorProto.DataType;
const AttrType = proto.AttributeProto.AttributeType;

/** A graph's inputs and outputs, in the order the model lists them. */
export interface GraphIo {
  inputs: onnx.IValueInfoProto[];
  outputs: onnx.IValueInfoProto[];
}

export interface GraphTensor {
  name: string;
  dataType: number;
  dims: number[];
  bytes: Uint8Array;
  /** Whether the tensor may live in a side file (weights may, graph constants may not). */
  weight: boolean;
}

/** Collects nodes (in topological order, as added) and initializers. */
export class GraphBuilder {
  readonly nodes: onnx.INodeProto[] = [];
  /** Every initializer, in the order first registered. */
  readonly tensors: GraphTensor[] = [];
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
    return this.tensor({ name, dataType: DataType.FLOAT, dims, bytes: bytesOf(data), weight: true });
  }

  int64(name: string, dims: number[], values: (number | bigint)[]): string {
    const data = BigInt64Array.from(values, (v) => BigInt(v));
    // onnxruntime's shape inference reads constants such as ReduceSum's axes and refuses them
    // as external data ("Cannot parse data from external tensors"), so they stay embedded.
    return this.tensor({ name, dataType: DataType.INT64, dims, bytes: bytesOf(data), weight: false });
  }

  /** Registers a tensor once: layers share constants such as reshape shapes by name. */
  tensor(tensor: GraphTensor): string {
    if (!this.names.has(tensor.name)) {
      this.names.add(tensor.name);
      this.tensors.push(tensor);
    }
    return tensor.name;
  }

  /** The model (ai.onnx opset 17, com.microsoft 1); by default every initializer holds its raw_data. */
  encode(io: GraphIo, initializer: onnx.ITensorProto[] = this.tensors.map(embeddedTensor)): Uint8Array {
    const model = proto.ModelProto.create({
      irVersion: 8,
      producerName: 'endless-chat llama2.c exporter',
      opsetImport: [
        { domain: '', version: 17 },
        { domain: 'com.microsoft', version: 1 },
      ],
      graph: { name: 'main_graph', node: this.nodes, initializer, input: io.inputs, output: io.outputs },
    });
    return proto.ModelProto.encode(model).finish();
  }
}

export function embeddedTensor({ name, dataType, dims, bytes }: GraphTensor): onnx.ITensorProto {
  return { name, dataType, dims, rawData: bytes };
}

export function bytesOf(data: Float32Array | BigInt64Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export function attrInt(name: string, i: number): onnx.IAttributeProto {
  return { name, type: AttrType.INT, i };
}

export function attrInts(name: string, ints: number[]): onnx.IAttributeProto {
  return { name, type: AttrType.INTS, ints };
}

export function attrFloat(name: string, f: number): onnx.IAttributeProto {
  return { name, type: AttrType.FLOAT, f };
}

export function valueInfo(name: string, elemType: number, dims: (string | number)[]): onnx.IValueInfoProto {
  const dim = dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d }));
  return { name, type: { tensorType: { elemType, shape: { dim } } } };
}
