import { halfToFloat } from '../../src/engine/split/graph.ts';

/** onnxruntime tensor data as float32; fp16 outputs arrive as raw uint16 words. */
export function floats(data: unknown): Float32Array {
  if (data instanceof Float32Array) return data;
  if (data instanceof Uint16Array) return Float32Array.from(data, halfToFloat);
  throw new Error('expected float32 or float16 tensor data');
}
