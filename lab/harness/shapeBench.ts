// The catalog's shapes (lab/shapeModels.ts) decoded by our engine (streaming, the app's cache, the
// chat's reply path with greedy picks on the GPU) and by onnxruntime's whole graph (dense, growing
// past, as transformers.js decodes), in one run: the work of a token counted for both (also with
// the app's default sampling, and per prefill token), and both timed at each stream position, their
// tokens alternating so that a slowdown of the machine hits both alike.
//
// A position is reached without computing the stream before it: our cache is restored from a
// snapshot of that length and onnxruntime gets a past of that length, both holding zeros. The
// work of a token depends on where the stream is, not on what the cache holds, and a dense 8K
// prefill of these shapes would take SwiftShader hours.

import type { Tensor } from 'onnxruntime-web/webgpu';
import { ModelRunner } from '../../src/engine/modelRunner.ts';
import type { GpuContext } from '../../src/engine/gpu/device.ts';
import type { CacheChoice, CacheDtype, SamplingParams } from '../../src/protocol/messages.ts';
import { DEFAULT_SAMPLING } from '../../src/engine/generate/sampler.ts';
import { ModelProto, useFloatActivations } from '../../src/engine/split/graph.ts';
import { FLOAT_BYTES, KV_CACHE_DTYPE } from '../../src/protocol/cache.ts';
import { align4 } from '../../src/engine/gpu/align.ts';
import { FullGraphSession } from '../ort/fullGraphSession.ts';
import { mulberry32 } from '../random.ts';
import { shapeModelFiles, type ModelShape, type ShapeWidths } from '../shapeModels.ts';
import { addOwned, perToken, zeroOwned, type OwnedCounts } from '../workCounts.ts';
import { DenseSteps, densePrefillCounts, replyCounts, ReplySteps, type Measured, type PathCounts } from './tokenSteps.ts';

export const GREEDY: SamplingParams = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0 };

/** The app's cache shape for chat models (src/features/models/hubModels.ts). */
const APP_CACHE = { maxChunk: 64, rollbackSlots: 64 };

export interface ShapeBenchJob {
  shape: ModelShape;
  widths: Omit<ShapeWidths, 'positions'>;
  seed: number;
  /** Our streaming cache: the catalog's default sinks and window. */
  cache: { sinks: number; window: number };
  /** Stream positions to time at. */
  positions: number[];
  /** Tokens per decoder at each position: `warm` untimed, then `tokens` timed and counted. */
  warm: number;
  tokens: number;
  /** Prompt of the prefill counts, and the tokens decoded after it with the app's default sampling
   *  (`warm` of them untimed, then `tokens` counted). */
  promptTokens: number;
}

export interface ShapePoint {
  position: number;
  /** ms per token, one entry per timed token. */
  ours: number[];
  denseOrt: number[];
  /** Work per timed token. */
  oursCounts: OwnedCounts;
  denseCounts: OwnedCounts;
}

export interface ShapeResult {
  widths: ShapeWidths;
  modelBytes: number;
  /** From an empty stream: our reply path with the app's default sampling (its prefill is
   *  greedy's too: the prompt's last row is read back whole either way), and onnxruntime's whole
   *  graph's prefill. Greedy decoding is counted at the positions. */
  counts: { sampled: PathCounts; densePrefill: OwnedCounts };
  points: ShapePoint[];
  /** Wall time of building the model and loading both decoders. */
  loadMs: number;
}

/** The graph with float activations in its 4-bit matmuls, as the engine runs its segments, so that
 *  both decoders do the same arithmetic outside attention. */
export function withFloatActivations(model: Uint8Array): Uint8Array {
  const proto = ModelProto.decode(model);
  useFloatActivations(proto.graph?.node ?? []);
  return ModelProto.encode(proto).finish();
}

/** Our engine and onnxruntime's whole graph on one shape model, sharing the GPU. */
export async function loadShape(job: Pick<ShapeBenchJob, 'shape' | 'widths' | 'seed' | 'cache'>, positions: number, gpu: GpuContext, dtype: CacheDtype = KV_CACHE_DTYPE) {
  const widths = { ...job.widths, positions };
  const files = shapeModelFiles(job.shape, widths, job.seed);
  const cache: CacheChoice = { mode: 'streaming', nSinks: job.cache.sinks, windowSize: job.cache.window, dtype, ...APP_CACHE };
  const runner = await ModelRunner.load(files, cache, gpu);
  try {
    const ort = await FullGraphSession.create(withFloatActivations(files.model), [], gpu.device);
    return { runner, ort, widths, modelBytes: files.model.byteLength };
  } catch (e) {
    await runner.unload();
    throw e;
  }
}

/**
 * Puts the runner's stream at `position` tokens by restoring a snapshot of that length whose keys
 * and values are zero. It writes KvCache's snapshot format (magic, header length, JSON header
 * padded to 4 bytes, then every layer's K and V slots); a change of that format makes restore
 * refuse it rather than measure something else.
 */
async function streamAt(runner: ModelRunner, position: number): Promise<void> {
  runner.cache.reset();
  const empty = await runner.cache.snapshot();
  const view = new DataView(empty.buffer, empty.byteOffset, empty.byteLength);
  const headerLength = view.getUint32(4, true);
  const header = JSON.parse(new TextDecoder().decode(empty.subarray(8, 8 + headerLength))) as Record<string, number | string>;
  const slots = Number(header.nSinks) + Number(header.ringSize);
  const occupiedSlots = Math.min(position, slots);
  const bytesPerSlot = Number(header.nKvHeads) * Number(header.headDim) * FLOAT_BYTES[header.dtype as CacheDtype];
  const headerBytes = new TextEncoder().encode(JSON.stringify({ ...header, nTokens: position, occupiedSlots }));
  const start = 8 + align4(headerBytes.length);
  const bytes = new Uint8Array(start + 2 * Number(header.nLayers) * occupiedSlots * bytesPerSlot);
  const out = new DataView(bytes.buffer);
  out.setUint32(0, view.getUint32(0, true), true);
  out.setUint32(4, headerBytes.length, true);
  bytes.set(headerBytes, 8);
  runner.cache.restore(bytes);
}

export async function benchShape(job: ShapeBenchJob, gpu: GpuContext): Promise<ShapeResult> {
  const started = performance.now();
  const last = Math.max(...job.positions);
  const { runner, ort, widths, modelBytes } = await loadShape(job, last + job.warm + job.tokens + job.promptTokens + 2, gpu);
  const loadMs = performance.now() - started;
  try {
    const rng = mulberry32(job.seed);
    const prompt = Array.from({ length: job.promptTokens }, () => 3 + Math.floor(rng() * (widths.vocab - 3)));
    const counts = {
      sampled: await replyCounts(runner, prompt, DEFAULT_SAMPLING, job.warm, job.tokens),
      densePrefill: await densePrefillCounts(ort, prompt),
    };
    const points: ShapePoint[] = [];
    for (const position of job.positions) {
      await streamAt(runner, position);
      const ours = new ReplySteps(runner, [prompt[0]], GREEDY);
      await ours.prefill();
      const past = ort.zeroPast(position, gpu.device);
      try {
        const dense = new DenseSteps(ort, past, prompt[0]);
        for (let i = 0; i < job.warm; i++) {
          await ours.decode();
          await dense.decode();
        }
        const point: ShapePoint = { position, ours: [], denseOrt: [], oursCounts: zeroOwned(), denseCounts: zeroOwned() };
        const record = (m: Measured<unknown>, times: number[], key: 'oursCounts' | 'denseCounts') => {
          times.push(m.ms);
          point[key] = addOwned(point[key], m.counts);
        };
        for (let r = 0; r < job.tokens; r++) {
          // Alternating which goes first keeps either from always running right after the other.
          if (r % 2 === 0) {
            record(await ours.decode(), point.ours, 'oursCounts');
            record(await dense.decode(), point.denseOrt, 'denseCounts');
          } else {
            record(await dense.decode(), point.denseOrt, 'denseCounts');
            record(await ours.decode(), point.ours, 'oursCounts');
          }
        }
        points.push({ ...point, oursCounts: perToken(point.oursCounts, job.tokens), denseCounts: perToken(point.denseCounts, job.tokens) });
      } finally {
        for (const t of past.values()) t.dispose();
      }
    }
    return { widths, modelBytes, counts, points, loadMs };
  } finally {
    await ort.release();
    await runner.unload();
  }
}

/** Largest |difference| between our logits and onnxruntime's whole graph (WebGPU, dense) over the
 *  same chunks fed from an empty stream, and the largest |logit|, on a shape model. */
export async function compareShape(job: Pick<ShapeBenchJob, 'shape' | 'widths' | 'seed' | 'cache'>, chunks: number[][], gpu: GpuContext) {
  const total = chunks.reduce((n, c) => n + c.length, 0);
  // An f32 cache, as onnxruntime's past is: the comparison is of the attention, not of f16 rounding.
  const { runner, ort } = await loadShape(job, total + 1, gpu, 'f32');
  const past = new Map<string, Tensor>();
  let maxDiff = 0;
  let maxLogit = 0;
  try {
    for (const ids of chunks) {
      const ours = await runner.feed(ids, { all: true });
      const theirs = await ort.feed(ids, past);
      if (ours.length !== theirs.length) throw new Error(`logits of ${ours.length} values against ${theirs.length}`);
      for (let i = 0; i < ours.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(ours[i] - theirs[i]));
        maxLogit = Math.max(maxLogit, Math.abs(theirs[i]));
      }
    }
  } finally {
    for (const t of past.values()) t.dispose();
    await ort.release();
    await runner.unload();
  }
  return { maxDiff, maxLogit, tokens: total };
}
