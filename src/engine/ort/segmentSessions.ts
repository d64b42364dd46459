// The app's only module that imports onnxruntime-web. It opens one WebGPU session per decoder
// segment on the engine's own GPUDevice and runs them with GPU-resident inputs and pre-allocated GPU
// outputs, so nothing but the logits ever leaves the GPU.
//
// Graph capture: a session created with it records its first captured run's GPU commands and
// replays them on every later captured run, without building a bind group or writing a uniform.
// A replay re-reads the buffers bound when it was captured, so captured runs must always be given
// the same buffers (the decoder's one-token bucket); runs of other shapes (prefill chunks) go
// uncaptured on the same session (run option gpu_graph_id = -1). That needs the glue patch in
// lab/onnxruntimeGluePatch.ts, which rebinds inputs and outputs on every run.

import * as ort from 'onnxruntime-web/webgpu';
import wasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import { EngineError } from '../../protocol/errors.ts';
import type { ActivationDtype, SplitDecoder } from '../model/split/splitDecoder.ts';

// Served by the app itself (never a CDN), so the PWA works offline.
ort.env.wasm.wasmPaths = { wasm: wasmUrl };
ort.env.wasm.proxy = false;

/** A tensor bound to a GPU buffer; opaque outside this module. */
export type SegmentTensor = ort.Tensor;

export function gpuTensor(buffer: GPUBuffer, dtype: ActivationDtype | 'int64', dims: number[]): SegmentTensor {
  return ort.Tensor.fromGpuBuffer(buffer, { dataType: dtype, dims });
}

export interface SessionOptions {
  /** Capture each segment's graph for runs that ask to replay it (see the header). */
  graphCapture: boolean;
  /** 'disabled' skips onnxruntime's own checks (in the browser the same as 'wgpuOnly'). */
  validationMode?: 'disabled' | 'wgpuOnly' | 'basic';
}

/** The run options of a run that must not be captured or replayed. */
const UNCAPTURED: ort.InferenceSession.RunOptions = { extra: { gpu_graph_id: '-1' } };

export class SegmentSessions {
  private constructor(
    private readonly sessions: ort.InferenceSession[],
    /** Per segment: whether its session captures its graph. */
    private readonly capturing: boolean[],
    /** Why segments that were asked to capture could not, one line each. */
    readonly captureFailures: string[],
  ) {}

  /** Creates the sessions one at a time (the WebGPU EP refuses concurrent creation). A segment
   *  whose session cannot capture its graph (a node onnxruntime keeps on the CPU, say) or whose
   *  captured graph would not replay (see Segment.captureBlocker) runs uncaptured, and the reason
   *  is kept in captureFailures. */
  static async create(device: GPUDevice, split: SplitDecoder, options: SessionOptions): Promise<SegmentSessions> {
    const sessions: ort.InferenceSession[] = [];
    const capturing: boolean[] = [];
    const failures: string[] = [];
    const provider = { name: 'webgpu', device, ...(options.validationMode ? { validationMode: options.validationMode } : {}) } as ort.InferenceSession.WebGpuExecutionProviderOption;
    const open = (model: Uint8Array, capture: boolean) =>
      ort.InferenceSession.create(model, {
        executionProviders: [provider],
        externalData: split.externalData.map(({ path, data }) => ({ path, data })),
        graphOptimizationLevel: 'all',
        ...(capture ? { enableGraphCapture: true } : {}),
      });
    try {
      for (const [index, segment] of split.segments.entries()) {
        let session: ort.InferenceSession | null = null;
        if (options.graphCapture && segment.captureBlocker) failures.push(`segment ${index}: ${segment.captureBlocker}`);
        else if (options.graphCapture) {
          try {
            session = await open(segment.model, true);
          } catch (e) {
            failures.push(`segment ${index}: ${String(e)}`);
          }
        }
        capturing.push(session !== null);
        sessions.push(session ?? (await open(segment.model, false)));
      }
    } catch (e) {
      await Promise.all(sessions.map((s) => s.release()));
      throw new EngineError('MODEL_UNSUPPORTED', 'onnxruntime could not load a part of this model; it may use operators the WebGPU backend lacks.', String(e));
    }
    return new SegmentSessions(sessions, capturing, failures);
  }

  /** How many segments capture their graph. */
  get capturedCount(): number {
    return this.capturing.filter(Boolean).length;
  }

  /**
   * Runs segment `index`, writing its outputs into the given pre-allocated tensors. With `replay`,
   * a capturing session replays its captured graph (capturing it on the first such run), so the
   * tensors must hold the same buffers on every replayed run; otherwise it runs uncaptured.
   */
  run(index: number, feeds: Record<string, SegmentTensor>, fetches: Record<string, SegmentTensor>, replay: boolean): Promise<unknown> {
    const session = this.sessions[index];
    return this.capturing[index] && !replay ? session.run(feeds, fetches, UNCAPTURED) : session.run(feeds, fetches);
  }

  async release(): Promise<void> {
    await Promise.all(this.sessions.map((s) => s.release()));
  }
}
