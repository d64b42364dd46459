// Where each weight's bytes live: segments reference them in place as external data (never copied
// or re-encoded), and the splitter reads the few it needs to look at (the rotary tables).

import type { onnx } from 'onnx-proto';
import { EngineError } from '../../protocol/errors.ts';
import { decodeValues, ElemType, TensorProto } from './graph.ts';

export interface ExternalFile {
  path: string;
  data: Uint8Array;
}

/** Name under which the original model bytes are mounted when weights were embedded in it. */
const EMBEDDED_WEIGHTS_PATH = 'embedded-weights.bin';
/** int64 initializers up to this size are shape data (reshape shapes, axes, slice bounds). */
const INLINE_INT64_BYTES = 4096;

export interface WeightLocator {
  /** The tensor as an external reference into the bytes it already lives in. */
  reference(tensor: onnx.ITensorProto): onnx.ITensorProto;
  /** The tensor's values as numbers (float and integer types), wherever its bytes live. */
  values(tensor: onnx.ITensorProto): ArrayLike<number>;
  /** Files every segment session must mount. */
  files(): ExternalFile[];
}

const normalise = (path: string) => path.replace(/^\.\//, '');

export function weightLocator(modelBytes: Uint8Array, externalFiles: ExternalFile[]): WeightLocator {
  let embeddedUsed = false;
  const external = new Map(externalFiles.map((f) => [normalise(f.path), f.data]));
  const entry = (tensor: onnx.ITensorProto, key: string) => (tensor.externalData ?? []).find((e) => e.key === key)?.value ?? undefined;
  const fileOf = (tensor: onnx.ITensorProto): Uint8Array => {
    const location = entry(tensor, 'location');
    const data = location ? external.get(normalise(location)) : undefined;
    if (!data) throw new EngineError('MODEL_CORRUPT', `The model needs its external data file "${location}", which is missing; download the model again.`);
    return data;
  };
  return {
    reference(tensor) {
      if (tensor.dataLocation === TensorProto.DataLocation.EXTERNAL) {
        fileOf(tensor);
        return tensor;
      }
      const raw = tensor.rawData;
      if (!raw || raw.byteLength === 0) return tensor; // small constants in typed fields stay inline
      // Shape data (reshape shapes, axes) stays inline: onnxruntime reads it during shape
      // inference and refuses external data there. It is a few bytes.
      if (tensor.dataType === ElemType.INT64 && raw.byteLength <= INLINE_INT64_BYTES) return tensor;
      const offset = raw.byteOffset - modelBytes.byteOffset;
      if (raw.buffer !== modelBytes.buffer || offset < 0 || offset + raw.byteLength > modelBytes.byteLength) {
        throw new Error('protobuf decoding copied raw_data, so weights can no longer be referenced in place');
      }
      embeddedUsed = true;
      return TensorProto.create({
        name: tensor.name,
        dims: tensor.dims,
        dataType: tensor.dataType,
        dataLocation: TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: EMBEDDED_WEIGHTS_PATH },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: String(raw.byteLength) },
        ],
      });
    },
    values(tensor) {
      let bytes = tensor.rawData ?? new Uint8Array(0);
      if (tensor.dataLocation === TensorProto.DataLocation.EXTERNAL) {
        const file = fileOf(tensor);
        const offset = Number(entry(tensor, 'offset') ?? 0);
        const length = Number(entry(tensor, 'length') ?? file.byteLength - offset);
        bytes = file.subarray(offset, offset + length);
      }
      const values = bytes.byteLength > 0 ? decodeValues(bytes, tensor.dataType ?? 0) : (tensor.floatData ?? tensor.int32Data ?? undefined);
      if (!values) throw new EngineError('MODEL_UNSUPPORTED', `The values of "${tensor.name}" (element type ${tensor.dataType}) cannot be read.`);
      return values;
    },
    files() {
      const files = [...external].map(([path, data]) => ({ path, data }));
      return embeddedUsed ? [{ path: EMBEDDED_WEIGHTS_PATH, data: modelBytes }, ...files] : files;
    },
  };
}
