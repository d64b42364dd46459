// onnxruntime session settings measured on the decode path alone: the model's segments run one
// token at a time on their boundary buffers (the attention kernel left out, so only onnxruntime's
// share of a token is timed), one session set per setting, their tokens alternating in one run.

import { planBuffers } from '../../src/engine/decoder/bufferPlan.ts';
import { boundaryDims, type SplitDecoder } from '../../src/engine/model/split/splitDecoder.ts';
import { gpuTensor, SegmentSessions, type SegmentTensor, type SessionOptions } from '../../src/engine/ort/segmentSessions.ts';

export interface TuningVariant {
  name: string;
  tuning: Partial<SessionOptions>;
  /** onnxruntime-web's JSPI build instead of the engine's asyncify build (bench only: the engine
   *  imports one build, in src/engine/ort/segmentSessions.ts). */
  jspi?: boolean;
}

interface Runner {
  name: string;
  step(id: number): Promise<void>;
  release(): Promise<void>;
}

/** The segments as sessions of the JSPI build, with the same run() as SegmentSessions. */
async function jspiSessions(device: GPUDevice, split: SplitDecoder): Promise<Pick<SegmentSessions, 'run' | 'release'>> {
  const ort = await import('onnxruntime-web/jspi');
  const wasm = (await import('onnxruntime-web/ort-wasm-simd-threaded.jspi.wasm?url')).default;
  ort.env.wasm.wasmPaths = { wasm };
  ort.env.wasm.proxy = false;
  const sessions: Awaited<ReturnType<typeof ort.InferenceSession.create>>[] = [];
  for (const segment of split.segments) {
    sessions.push(
      await ort.InferenceSession.create(segment.model, {
        executionProviders: [{ name: 'webgpu', device } as never],
        externalData: split.externalData.map(({ path, data }) => ({ path, data })),
        graphOptimizationLevel: 'all',
      }),
    );
  }
  // Tensors of the engine's build carry their GPU buffer; this build wraps the same buffer.
  const own = (t: SegmentTensor) =>
    t.location === 'gpu-buffer' ? ort.Tensor.fromGpuBuffer(t.gpuBuffer as GPUBuffer, { dataType: t.type as 'float32', dims: t.dims }) : new ort.Tensor(t.type as 'int64', t.data as BigInt64Array, t.dims);
  const converted = new WeakMap<object, Record<string, ReturnType<typeof own>>>();
  const convert = (r: Record<string, SegmentTensor>) => {
    let c = converted.get(r);
    if (!c) converted.set(r, (c = Object.fromEntries(Object.entries(r).map(([k, t]) => [k, own(t)]))));
    return c;
  };
  return {
    async run(i, feeds, fetches) {
      await sessions[i].run(convert(feeds), convert(fetches));
    },
    async release() {
      await Promise.all(sessions.map((x) => x.release()));
    },
  };
}

async function runner(device: GPUDevice, split: SplitDecoder, variant: TuningVariant): Promise<Runner> {
  const sessions = variant.jspi ? await jspiSessions(device, split) : await SegmentSessions.create(device, split, { graphCapture: false, ...variant.tuning });
  const plan = planBuffers(split);
  const bytesPerValue = split.dtype === 'float16' ? 2 : 4;
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const buffers = plan.slotWidths.map((width) => device.createBuffer({ size: Math.ceil((width * bytesPerValue) / 4) * 4, usage }));
  const tensors = buffers.map((buffer, slot) => gpuTensor(buffer, split.dtype, [1, 1, plan.slotWidths[slot]]));
  const idsBuffer = device.createBuffer({ size: 16, usage });
  const idsHost = new BigInt64Array(1);
  const idsTensor: SegmentTensor = gpuTensor(idsBuffer, 'int64', [1, 1]);
  const slot = (name: string) => plan.slotOf.get(name)!;
  const feeds = split.segments.map((s) => Object.fromEntries(s.inputs.map((t) => [t.name, t.dtype === 'int64' ? idsTensor : tensors[slot(t.name)]])));
  const fetches = split.segments.map((s) => Object.fromEntries(s.outputs.map((t) => [t.name, t.tokenShape ? gpuTensor(buffers[slot(t.name)], split.dtype, boundaryDims(t, 1)) : tensors[slot(t.name)]])));
  return {
    name: variant.name,
    async step(id) {
      idsHost[0] = BigInt(id);
      device.queue.writeBuffer(idsBuffer, 0, idsHost);
      for (let i = 0; i < split.segments.length; i++) await sessions.run(i, feeds[i], fetches[i], true);
      await device.queue.onSubmittedWorkDone();
    },
    async release() {
      await sessions.release();
      for (const b of [...buffers, idsBuffer]) b.destroy();
    },
  };
}

/** ms per token of each variant (one entry per timed token), or the error that stopped it. */
export async function benchSessionTunings(device: GPUDevice, split: SplitDecoder, variants: TuningVariant[], tokens: number): Promise<Record<string, number[] | string>> {
  const out: Record<string, number[] | string> = {};
  const runners: Runner[] = [];
  try {
    for (const v of variants) {
      let r: Runner | undefined;
      try {
        r = await runner(device, split, v);
        for (let i = 0; i < 3; i++) await r.step(1 + i); // the first runs compile, and capture the graph
        runners.push(r);
        out[v.name] = [];
      } catch (e) {
        out[v.name] = String(e);
        await r?.release();
      }
    }
    for (let t = 0; t < tokens; t++) {
      for (let j = 0; j < runners.length; j++) {
        const r = runners[(t + j) % runners.length];
        const start = performance.now();
        await r.step(1 + (t % 500));
        (out[r.name] as number[]).push(performance.now() - start);
      }
    }
  } finally {
    for (const r of runners) await r.release();
  }
  return out;
}
