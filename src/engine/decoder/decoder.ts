// The forward pass: onnxruntime-web segments for the dense layers, interleaved with the project's
// attention kernel over the ring-buffer KV cache, all on one GPUDevice. Per chunk of n tokens:
//
//   segment 0 (input_ids)      -> q0, k0, v0 (+ residual)       onnxruntime
//   attention 0                -> out0                          kv_append + attention + combine
//   segment 1 (out0, residual) -> q1, k1, v1 (+ residual)       onnxruntime
//   ...
//   segment L (outL-1, ...)    -> logits                        onnxruntime, then one readback
//
// Chunks are cut into power-of-two pieces, so boundary buffers exist once per size ("bucket") and
// are reused for every chunk of that size; ORT's queue submissions order them with the kernel's.

import { EngineError } from '../../protocol/errors.ts';
import { StreamingAttention, type AttentionConfig } from '../kernels/attention.ts';
import type { RopeConfig, RopeScaling } from '../kernels/rope.ts';
import { KvCache, type CacheDtype } from '../kv/kvCache.ts';
import type { AttentionMode } from '../kv/ringLayout.ts';
import type { SplitDecoder } from '../model/splitDecoder.ts';
import { gpuTensor, inputIdsTensor, SegmentSessions, type SegmentTensor } from '../ort/segmentSessions.ts';
import { planBuffers, type BufferPlan } from './bufferPlan.ts';

/** What the kernel needs from the model's config.json beyond what the graph states. */
export interface RotaryConfig {
  theta: number;
  /** Dims per head the model rotates (head_dim * partial_rotary_factor in Hugging Face configs). */
  rotaryDim: number;
  scaling?: RopeScaling;
}

export interface CacheSettings {
  mode: AttentionMode;
  nSinks: number;
  windowSize: number;
  /** Largest prefill piece; a power of two. */
  maxChunk: number;
  dtype: CacheDtype;
  rollbackSlots?: number;
}

/** Wall time per phase of the forward pass, for benchmarks. While a profile is attached the
 *  decoder waits for the GPU after every phase, so the phases do not overlap. */
export interface PhaseProfile {
  segmentsMs: number;
  attentionMs: number;
  readbackMs: number;
}

/** Boundary buffers and the ORT tensors bound to them, for chunks of one size. */
interface Bucket {
  n: number;
  buffers: GPUBuffer[];
  tensors: SegmentTensor[];
  logitsStaging: GPUBuffer;
}

export class Decoder {
  private readonly plan: BufferPlan;
  private readonly buckets = new Map<number, Bucket>();
  private readonly layerCount: number;
  /** Attach to time the phases (benchmarks only: it serialises CPU and GPU). */
  profile: PhaseProfile | null = null;

  private constructor(
    private readonly device: GPUDevice,
    private readonly split: SplitDecoder,
    private readonly sessions: SegmentSessions,
    readonly cache: KvCache,
    private readonly attention: StreamingAttention,
  ) {
    this.plan = planBuffers(split);
    this.layerCount = split.sites.length;
  }

  static async load(device: GPUDevice, split: SplitDecoder, rotary: RotaryConfig, settings: CacheSettings): Promise<Decoder> {
    const site = split.sites[0];
    for (const s of split.sites) {
      if (s.nHeads !== site.nHeads || s.nKvHeads !== site.nKvHeads || s.headSize !== site.headSize || s.rotaryPairs !== site.rotaryPairs) {
        throw new EngineError('MODEL_UNSUPPORTED', `Attention layer ${s.layer} has a different shape from layer 0; models with mixed layer shapes are not supported.`);
      }
    }
    if (!Number.isInteger(Math.log2(settings.maxChunk))) {
      throw new EngineError('CONFIG_INVALID', `The prefill chunk must be a power of two, got ${settings.maxChunk}.`);
    }
    const graphRotaryDim = 2 * site.rotaryPairs;
    if (rotary.rotaryDim > graphRotaryDim) {
      throw new EngineError('MODEL_UNSUPPORTED', `The config rotates ${rotary.rotaryDim} dims per head but the graph's rotary cache covers ${graphRotaryDim}.`);
    }
    const rope: RopeConfig = {
      theta: rotary.theta,
      rotaryDim: graphRotaryDim,
      layout: site.rotaryInterleaved ? 'interleaved' : 'half',
      scaling: rotary.scaling,
      frequencyDim: rotary.rotaryDim,
    };
    const config: AttentionConfig = {
      nHeads: site.nHeads,
      nKvHeads: site.nKvHeads,
      headDim: site.headSize,
      ioDtype: split.dtype === 'float16' ? 'f16' : 'f32',
      scale: site.scale || undefined,
      rope,
    };
    const cache = KvCache.create(device, {
      nLayers: split.sites.length,
      nKvHeads: site.nKvHeads,
      headDim: site.headSize,
      dtype: settings.dtype,
      mode: settings.mode,
      nSinks: settings.nSinks,
      windowSize: settings.windowSize,
      maxChunk: settings.maxChunk,
      rollbackSlots: settings.rollbackSlots,
    });
    let attention: StreamingAttention | undefined;
    try {
      attention = StreamingAttention.create(device, config, cache);
      const sessions = await SegmentSessions.create(device, split);
      return new Decoder(device, split, sessions, cache, attention);
    } catch (e) {
      attention?.destroy();
      cache.destroy();
      throw e;
    }
  }

  get vocabSize(): number {
    return this.split.vocabSize;
  }

  /** Tokens in the stream so far. */
  get length(): number {
    return this.cache.layout.nTokens;
  }

  /**
   * Feeds ids into the stream. Returns logits [vocab] after the last id, or with `all`,
   * logits [ids.length, vocab] after every id.
   */
  async forward(ids: readonly number[], options: { all?: boolean; signal?: AbortSignal } = {}): Promise<Float32Array> {
    if (ids.length === 0) throw new EngineError('CONFIG_INVALID', 'Nothing to feed: the token list is empty.');
    const vocab = this.vocabSize;
    const logits = new Float32Array((options.all ? ids.length : 1) * vocab);
    const start = this.length;
    let done = 0;
    while (done < ids.length) {
      // An aborted feed leaves the stream as it was; once the pieces already fed can no longer be
      // rolled back (they pushed out window entries), the feed runs to its end instead.
      if (options.signal?.aborted && this.cache.layout.canTruncateTo(start)) {
        this.cache.layout.truncate(start);
        throw new EngineError('ABORTED', 'Stopped.');
      }
      const n = 2 ** Math.floor(Math.log2(Math.min(ids.length - done, this.cache.layout.maxChunk)));
      const last = done + n === ids.length;
      const rows = options.all ? n : last ? 1 : 0;
      const out = await this.runChunk(ids.slice(done, done + n), rows);
      if (options.all) logits.set(out, done * vocab);
      else if (last) logits.set(out);
      done += n;
    }
    return logits;
  }

  /** Runs one power-of-two chunk through every segment and attention layer; reads back the
   *  logits of its last `rows` tokens. */
  private async runChunk(ids: number[], rows: number): Promise<Float32Array> {
    const n = ids.length;
    const bucket = this.bucket(n);
    const tensorOf = (name: string) => bucket.tensors[this.plan.slotOf.get(name)!];
    const bufferOf = (name: string) => bucket.buffers[this.plan.slotOf.get(name)!];
    this.attention.beginChunk(n);
    try {
      for (let i = 0; i <= this.layerCount; i++) {
        const segment = this.split.segments[i];
        const feeds: Record<string, SegmentTensor> = {};
        for (const input of segment.inputs) {
          feeds[input.name] = input.dtype === 'int64' ? inputIdsTensor(BigInt64Array.from(ids, BigInt)) : tensorOf(input.name);
        }
        const fetches: Record<string, SegmentTensor> = {};
        for (const output of segment.outputs) fetches[output.name] = tensorOf(output.name);
        let start = performance.now();
        await this.sessions.run(i, feeds, fetches);
        if (this.profile) {
          await this.device.queue.onSubmittedWorkDone();
          this.profile.segmentsMs += performance.now() - start;
        }
        if (i < this.layerCount) {
          start = performance.now();
          const site = this.split.sites[i];
          this.attention.run(i, { q: bufferOf(site.q), k: bufferOf(site.k), v: bufferOf(site.v), out: bufferOf(site.out) });
          if (this.profile) {
            await this.device.queue.onSubmittedWorkDone();
            this.profile.attentionMs += performance.now() - start;
          }
        }
      }
    } catch (e) {
      this.attention.abandonChunk();
      throw e;
    }
    this.attention.endChunk();
    if (rows === 0) return new Float32Array(0);
    const start = performance.now();
    const logits = await this.readLogits(bucket, bufferOf(this.logitsName), rows);
    if (this.profile) this.profile.readbackMs += performance.now() - start;
    return logits;
  }

  private get logitsName(): string {
    const last = this.split.segments[this.layerCount];
    return last.outputs[last.outputs.length - 1].name;
  }

  private async readLogits(bucket: Bucket, logits: GPUBuffer, rows: number): Promise<Float32Array> {
    const bytesPerValue = this.split.dtype === 'float16' ? 2 : 4;
    const rowBytes = this.vocabSize * bytesPerValue;
    const size = align4(rows * rowBytes);
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(logits, (bucket.n - rows) * rowBytes, bucket.logitsStaging, 0, size);
    this.device.queue.submit([encoder.finish()]);
    await bucket.logitsStaging.mapAsync(GPUMapMode.READ, 0, size);
    const raw = bucket.logitsStaging.getMappedRange(0, size);
    const values = bytesPerValue === 2 ? new Float32Array(new Float16Array(raw, 0, rows * this.vocabSize)) : new Float32Array(raw.slice(0, rows * rowBytes));
    bucket.logitsStaging.unmap();
    return values;
  }

  private bucket(n: number): Bucket {
    let bucket = this.buckets.get(n);
    if (!bucket) {
      const bytesPerValue = this.split.dtype === 'float16' ? 2 : 4;
      const dtype = this.split.dtype;
      const buffers = this.plan.slotWidths.map((width, slot) =>
        this.device.createBuffer({
          label: `decoder.n${n}.slot${slot}`,
          size: align4(n * width * bytesPerValue),
          usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
        }),
      );
      const tensors = buffers.map((buffer, slot) => gpuTensor(buffer, dtype, [1, n, this.plan.slotWidths[slot]]));
      const logitsStaging = this.device.createBuffer({
        label: `decoder.n${n}.logits`,
        size: align4(n * this.vocabSize * bytesPerValue),
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
      bucket = { n, buffers, tensors, logitsStaging };
      this.buckets.set(n, bucket);
    }
    return bucket;
  }

  /** Forgets the stream; the next token is stream index 0. */
  reset(): void {
    this.cache.layout.reset();
  }

  async destroy(): Promise<void> {
    await this.sessions.release();
    for (const bucket of this.buckets.values()) {
      for (const b of [...bucket.buffers, bucket.logitsStaging]) b.destroy();
    }
    this.attention.destroy();
    this.cache.destroy();
  }
}

function align4(n: number): number {
  return Math.ceil(n / 4) * 4;
}
