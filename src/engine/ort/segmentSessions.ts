// The app's only module that imports onnxruntime-web. It opens one WebGPU session per decoder
// segment on the engine's own GPUDevice and runs them with GPU-resident inputs and pre-allocated GPU
// outputs, so nothing but the logits ever leaves the GPU.

import * as ort from 'onnxruntime-web/webgpu';
import wasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import { EngineError } from '../../protocol/errors.ts';
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
