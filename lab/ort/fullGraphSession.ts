// The whole ONNX decoder run by onnxruntime with its own attention: on the CPU (wasm) the oracle of
// the tests, on WebGPU the dense baseline of the benchmark. Never shipped: the app runs the split
// decoder (src/engine/ort/segmentSessions.ts).

import * as ort from 'onnxruntime-web/webgpu';
import { decoderInputs, floats } from './tensorData.ts';
// Loaded for its setup of onnxruntime's wasm, served by the app as the engine has it.
import '../../src/engine/ort/segmentSessions.ts';

/** The whole ONNX decoder with onnxruntime's own attention and growing past_key_values. On the
 *  CPU (wasm) backend it is the reference the split engine must match while the stream fits the
 *  cache; on WebGPU, with past_key_values kept in GPU buffers between calls, it is dense decoding
 *  as transformers.js does it, the baseline of the benchmark. Inputs are bound by name: exports
 *  list past keys and values in different orders and name the head size symbolically. */
export class FullGraphSession {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly nLayers: number,
    private readonly onGpu: boolean,
    /** [kvHeads, headSize] of the past inputs. */
    readonly kvShape: [number, number],
  ) {}

  /** With `device`, runs on WebGPU on that device; otherwise on the CPU. `kvShape` ([kvHeads,
   *  headSize]) is needed where the graph names those dims symbolically. */
  static async create(model: Uint8Array, externalData: { path: string; data: Uint8Array }[] = [], device?: GPUDevice, kvShape?: [number, number]): Promise<FullGraphSession> {
    const session = await ort.InferenceSession.create(
      model,
      device
        ? {
            executionProviders: [{ name: 'webgpu', device } as ort.InferenceSession.WebGpuExecutionProviderOption],
            externalData,
            graphOptimizationLevel: 'all',
            preferredOutputLocation: 'gpu-buffer',
          }
        : { executionProviders: ['wasm'], externalData },
    );
    const nLayers = session.inputNames.filter((n) => /^past_key_values\.\d+\.key$/.test(n)).length;
    const meta = session.inputMetadata.find((m) => m.name === 'past_key_values.0.key');
    const dims = meta && 'shape' in meta ? meta.shape.slice(1).filter((_, i) => i !== 1).map(Number) : [];
    const shape = dims.length === 2 && dims.every((d) => d > 0) ? (dims as [number, number]) : kvShape;
    if (!shape) {
      await session.release();
      throw new Error('the graph names its KV head count or head size symbolically; pass kvShape');
    }
    return new FullGraphSession(session, nLayers, device !== undefined, shape);
  }

  /** Logits [n, vocab] for `ids` fed after everything fed before. */
  async feed(ids: number[], past: Map<string, ort.Tensor>): Promise<Float32Array> {
    const pastLength = past.size ? (past.get('past_key_values.0.key')!.dims[2] as number) : 0;
    const out = await this.session.run(this.feeds(ids, pastLength, (name) => past.get(name) ?? this.pastTensor(new Float32Array(0), 0)));
    for (let layer = 0; layer < this.nLayers; layer++) {
      for (const kind of ['key', 'value']) {
        const name = `past_key_values.${layer}.${kind}`;
        // The previous cache lives in a GPU buffer of its own, which the new present replaces.
        if (this.onGpu) past.get(name)?.dispose();
        past.set(name, out[`present.${layer}.${kind}`]);
      }
    }
    return this.onGpu ? floats(await out.logits.getData(true)) : floats(out.logits.data);
  }

  /** A past of `length` positions, all zero, in GPU buffers of `device` that the session's next
   *  feed takes over: decoding can start at any position without feeding the stream before it
   *  (the work of a token depends on the past's length, not on its values). WebGPU only. */
  zeroPast(length: number, device: GPUDevice): Map<string, ort.Tensor> {
    if (!this.onGpu) throw new Error('a zero past in GPU buffers needs a session on WebGPU');
    const [kvHeads, headSize] = this.kvShape;
    const past = new Map<string, ort.Tensor>();
    for (let layer = 0; layer < this.nLayers; layer++) {
      for (const kind of ['key', 'value']) {
        const buffer = device.createBuffer({ size: kvHeads * length * headSize * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
        past.set(`past_key_values.${layer}.${kind}`, ort.Tensor.fromGpuBuffer(buffer, { dataType: 'float32', dims: [1, kvHeads, length, headSize], dispose: () => buffer.destroy() }));
      }
    }
    return past;
  }

  private feeds(ids: number[], pastLength: number, pastOf: (name: string) => ort.Tensor): Record<string, ort.Tensor> {
    const feeds = decoderInputs(ort.Tensor, this.session.inputNames, ids, pastLength);
    for (const name of this.session.inputNames) if (name.startsWith('past_key_values.')) feeds[name] = pastOf(name);
    return feeds;
  }

  private pastTensor(data: Float32Array, length: number): ort.Tensor {
    const [kvHeads, headSize] = this.kvShape;
    return new ort.Tensor('float32', data, [1, kvHeads, length, headSize]);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
