// The only module that imports onnxruntime-web. It opens one WebGPU session per decoder segment on
// the engine's own GPUDevice and runs them with GPU-resident inputs and pre-allocated GPU outputs,
// so nothing but the logits ever leaves the GPU. Also offers the full graph with onnxruntime's own
// attention: on the CPU (wasm) the oracle of the tests, on WebGPU the dense baseline of the benchmark.

import * as ort from 'onnxruntime-web/webgpu';
import wasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import { EngineError } from '../../protocol/errors.ts';
import { halfToFloat } from '../model/split/graph.ts';
import type { ActivationDtype, SplitDecoder } from '../model/split/splitDecoder.ts';

// Served by the app itself (never a CDN), so the PWA works offline.
ort.env.wasm.wasmPaths = { wasm: wasmUrl };
ort.env.wasm.proxy = false;

/** A tensor bound to a GPU buffer, or input ids on the CPU; opaque outside this module. */
export type SegmentTensor = ort.Tensor;

export function gpuTensor(buffer: GPUBuffer, dtype: ActivationDtype, dims: number[]): SegmentTensor {
  return ort.Tensor.fromGpuBuffer(buffer, { dataType: dtype, dims });
}

export function inputIdsTensor(ids: BigInt64Array<ArrayBuffer>): SegmentTensor {
  return new ort.Tensor('int64', ids, [1, ids.length]);
}

/** Input ids [1, n] held in a GPU buffer of n int64 (for sessions that capture their graph). */
export function gpuIdsTensor(buffer: GPUBuffer, n: number): SegmentTensor {
  return ort.Tensor.fromGpuBuffer(buffer, { dataType: 'int64', dims: [1, n] });
}

/** WebGPU session settings the benchmark compares; the engine uses the defaults. */
export interface SessionTuning {
  /** onnxruntime's graph capture: every run replays the first one's GPU commands. Needs static
   *  shapes and every input and output in a GPU buffer, so one session set per chunk size. */
  graphCapture?: boolean;
  /** 'disabled' skips onnxruntime's own checks (in the browser the same as 'wgpuOnly'). */
  validationMode?: 'disabled' | 'wgpuOnly' | 'basic';
}

export class SegmentSessions {
  private constructor(private readonly sessions: ort.InferenceSession[]) {}

  /** Creates the sessions one at a time (the WebGPU EP refuses concurrent creation). */
  static async create(device: GPUDevice, split: SplitDecoder, tuning: SessionTuning = {}): Promise<SegmentSessions> {
    const sessions: ort.InferenceSession[] = [];
    try {
      for (const segment of split.segments) {
        const provider = { name: 'webgpu', device, ...(tuning.validationMode ? { validationMode: tuning.validationMode } : {}) };
        sessions.push(
          await ort.InferenceSession.create(segment.model, {
            executionProviders: [provider as ort.InferenceSession.WebGpuExecutionProviderOption],
            externalData: split.externalData.map(({ path, data }) => ({ path, data })),
            graphOptimizationLevel: 'all',
            ...(tuning.graphCapture ? { enableGraphCapture: true, preferredOutputLocation: 'gpu-buffer' as const } : {}),
          }),
        );
      }
    } catch (e) {
      await Promise.all(sessions.map((s) => s.release()));
      throw new EngineError('MODEL_UNSUPPORTED', 'onnxruntime could not load a part of this model; it may use operators the WebGPU backend lacks.', String(e));
    }
    return new SegmentSessions(sessions);
  }

  /** Runs segment `index`; outputs are written into the given pre-allocated tensors. */
  async run(index: number, feeds: Record<string, SegmentTensor>, fetches: Record<string, SegmentTensor>): Promise<void> {
    await this.sessions[index].run(feeds, fetches);
  }

  async release(): Promise<void> {
    await Promise.all(this.sessions.map((s) => s.release()));
  }
}

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

  private feeds(ids: number[], pastLength: number, pastOf: (name: string) => ort.Tensor): Record<string, ort.Tensor> {
    const n = ids.length;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, n]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(pastLength + n).fill(1n), [1, pastLength + n]),
    };
    if (this.session.inputNames.includes('position_ids')) {
      feeds.position_ids = new ort.Tensor('int64', BigInt64Array.from(ids, (_, i) => BigInt(pastLength + i)), [1, n]);
    }
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

/** Tensor data as float32; fp16 outputs arrive as raw uint16 words. */
function floats(data: unknown): Float32Array {
  if (data instanceof Float32Array) return data;
  if (data instanceof Uint16Array) return Float32Array.from(data, halfToFloat);
  throw new Error('expected float32 or float16 tensor data');
}
