// onnxruntime tensors as the lab uses them: float data read back, and the inputs of a decoder graph.

import type { Tensor, TensorConstructor } from 'onnxruntime-web';
import { halfToFloat } from '../../src/engine/split/graph.ts';

/** onnxruntime tensor data as float32; fp16 outputs arrive as raw uint16 words. */
export function floats(data: unknown): Float32Array {
  if (data instanceof Float32Array) return data;
  if (data instanceof Uint16Array) return Float32Array.from(data, halfToFloat);
  throw new Error('expected float32 or float16 tensor data');
}

/** The inputs of a decoder graph besides its past: `ids` after `pastLength` tokens, the attention
 *  mask over all of them, and their positions when the graph takes them. `Tensor` is the caller's
 *  onnxruntime build (the browser's WebGPU one or Node's wasm one). */
export function decoderInputs(Tensor: TensorConstructor, inputNames: readonly string[], ids: number[], pastLength: number): Record<string, Tensor> {
  const n = ids.length;
  const inputs: Record<string, Tensor> = {
    input_ids: new Tensor('int64', BigInt64Array.from(ids, BigInt), [1, n]),
    attention_mask: new Tensor('int64', new BigInt64Array(pastLength + n).fill(1n), [1, pastLength + n]),
  };
  if (inputNames.includes('position_ids')) inputs.position_ids = new Tensor('int64', BigInt64Array.from(ids, (_, i) => BigInt(pastLength + i)), [1, n]);
  return inputs;
}
