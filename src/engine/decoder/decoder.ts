// The forward pass: onnxruntime-web segments for the dense layers, interleaved with the project's
// attention kernel over the ring-buffer KV cache, all on one GPUDevice. Per chunk of n tokens:
//
//   segment 0 (input_ids)      -> q0, k0, v0 (+ residual)       onnxruntime
//   attention 0                -> out0                          kv_append + attention + combine
//   segment 1 (out0, residual) -> q1, k1, v1 (+ residual)       onnxruntime
//   ...
//   segment L (outL-1, ...)    -> logits                        onnxruntime, then one readback
//
// Onnxruntime sees two shapes only: one token (decode, replayed from a captured graph) and maxChunk
// tokens (prefill). A shorter prefill chunk runs in the maxChunk buffers with its rows past nNew
// left over from before: every op in a segment works row by row, the kernel reads and writes only
// the nNew real rows, and only real rows are read back. So each shape compiles once, at load
// (warmUp), and boundary buffers exist for two sizes ("buckets"), reused by every chunk.

import { EngineError } from '../../protocol/errors.ts';
import type { CacheChoice, CacheDtype, CacheLayout } from '../../protocol/messages.ts';
import { StreamingAttention, type AttentionConfig, type AttentionIO } from '../kernels/attention.ts';
import { MAX_PENALIZED, MAX_TOP_K } from '../kernels/kernelSizes.ts';
import type { RopeConfig } from '../kernels/rope.ts';
import { TopLogitsKernel, type IdLogits, type TopLogits } from '../kernels/topLogits.ts';
import { KvCache, type StreamCache } from '../kv/kvCache.ts';
import type { RotaryConfig } from '../model/rotary.ts';
import { boundaryDims, type BoundaryTensor, type SplitDecoder } from '../model/split/splitDecoder.ts';
import { gpuTensor, SegmentSessions, type SegmentTensor } from '../ort/segmentSessions.ts';
import { planBuffers, type BufferPlan } from './bufferPlan.ts';


export interface DecoderOptions {
  /** Replay onnxruntime's captured graphs for one-token chunks (decode); off, every run builds its
   *  bind groups and uniforms afresh. The logits are the same either way. */
  graphCapture: boolean;
  /** Run a prefill chunk, a token and a pick before the decoder is handed out (warmUp()):
   *  pipelines compile and graphs are captured during the load instead of in the first reply. */
  warmUp?: boolean;
}

/** Wall time per phase of the forward pass, for benchmarks. While a profile is attached the
 *  decoder waits for the GPU after every phase, so the phases do not overlap. */
export interface PhaseProfile {
  segmentsMs: number;
  attentionMs: number;
  /** Logits readback, or the GPU pick of the best logits and its readback (forwardTop). */
  readbackMs: number;
}

/** Boundary buffers and the ORT tensors bound to them, for chunks of one size. */
interface Bucket {
  n: number;
  buffers: GPUBuffer[];
  tensors: SegmentTensor[];
  logitsStaging: GPUBuffer;
  /** input_ids [1, n] int64, on the GPU: graph capture needs every input there. */
  ids: GPUBuffer;
  /** Its contents on the CPU as int32 words (low, high), written in place for every chunk. */
  idWords: Int32Array<ArrayBuffer>;
  /** Per segment: its feeds and fetches records. */
  feeds: Record<string, SegmentTensor>[];
  fetches: Record<string, SegmentTensor>[];
  /** Per attention layer: its kernel's buffers. */
  attentionIo: AttentionIO[];
  logits: GPUBuffer;
}

/** Least time between two progress reports of a feed. */
const REPORT_MS = 100;

export interface ForwardOptions {
  /** Logits after every id instead of after the last one. */
  all?: boolean;
  /** Stops the feed between two chunks (ABORTED). */
  signal?: AbortSignal;
  /** Ids the GPU has read so far, at most every REPORT_MS and once at the end. */
  onProgress?(done: number, total: number): void;
}

export class Decoder {
  private readonly plan: BufferPlan;
  private readonly buckets = new Map<number, Bucket>();
  private readonly layerCount: number;
  /** Rows of the prefill bucket: the stream's own cache's maxChunk, whatever cache feeds go to. */
  readonly maxChunk: number;
  /** The cache and kernel feeds go to: the stream's own, or another one for the length of withCache. */
  private kv: KvCache;
  private attention: StreamingAttention;
  /** Attach to time the phases (benchmarks only: it serialises CPU and GPU). */
  profile: PhaseProfile | null = null;

  private constructor(
    private readonly device: GPUDevice,
    private readonly split: SplitDecoder,
    private readonly sessions: SegmentSessions,
    /** The stream's own cache and its kernel. */
    private readonly home: { kv: KvCache; attention: StreamingAttention },
    private readonly topLogits: TopLogitsKernel,
  ) {
    this.plan = planBuffers(split);
    this.layerCount = split.sites.length;
    this.maxChunk = home.kv.config.maxChunk;
    this.kv = home.kv;
    this.attention = home.attention;
  }

  static async load(device: GPUDevice, split: SplitDecoder, rotary: RotaryConfig, settings: CacheChoice, options: DecoderOptions): Promise<Decoder> {
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
    let topLogits: TopLogitsKernel | undefined;
    try {
      attention = StreamingAttention.create(device, config, cache);
      topLogits = new TopLogitsKernel(device, split.vocabSize, config.ioDtype);
      const sessions = await SegmentSessions.create(device, split, { graphCapture: options.graphCapture });
      // The decoder works either way; capture only saves CPU work per token.
      for (const failure of sessions.captureFailures) console.warn(`Graph capture is off for a decoder segment: ${failure}`);
      const decoder = new Decoder(device, split, sessions, { kv: cache, attention }, topLogits);
      if (options.warmUp) await decoder.warmUp();
      return decoder;
    } catch (e) {
      attention?.destroy();
      topLogits?.destroy();
      cache.destroy();
      throw e;
    }
  }

  get vocabSize(): number {
    return this.split.vocabSize;
  }

  /** Segments that replay a captured graph for one-token chunks, of all segments. */
  get capturedSegments(): { captured: number; total: number } {
    return { captured: this.sessions.capturedCount, total: this.split.segments.length };
  }

  /** The stream's cache, for the layers above: its fill, roll-back, snapshots. */
  get cache(): StreamCache {
    return this.home.kv;
  }

  /** Element type of the stream's cache; withCache's caches have it too. */
  get cacheDtype(): CacheDtype {
    return this.home.kv.config.dtype;
  }

  /**
   * Runs `work` with every feed going to a cache of its own, laid out as `choice` says (its
   * maxChunk at most this decoder's), then frees it. It is another KvCache and attention kernel
   * over the same sessions and boundary buffers: the weights exist once, and one-token runs replay
   * the graphs captured on the one-token buffers as always. The stream's own cache is not touched,
   * and feeds go to it again once `work` settles.
   */
  async withCache<T>(choice: CacheLayout, work: (cache: StreamCache) => Promise<T>): Promise<T> {
    if (this.kv !== this.home.kv) throw new EngineError('CONFIG_INVALID', 'Another cache is already in use on this model; wait for its work to end.');
    if (choice.maxChunk > this.maxChunk) {
      throw new EngineError('CONFIG_INVALID', `A cache beside the stream's takes chunks of at most ${this.maxChunk} tokens, the prefill buffers' size; got ${choice.maxChunk}.`);
    }
    const { nLayers, nKvHeads, headDim, dtype } = this.home.kv.config;
    const kv = KvCache.create(this.device, { ...choice, nLayers, nKvHeads, headDim, dtype });
    let attention: StreamingAttention | undefined;
    try {
      attention = StreamingAttention.create(this.device, this.home.attention.config, kv);
      this.kv = kv;
      this.attention = attention;
      return await work(kv);
    } finally {
      this.kv = this.home.kv;
      this.attention = this.home.attention;
      attention?.destroy();
      kv.destroy();
    }
  }

  /**
   * Feeds ids into the stream. Returns logits [vocab] after the last id, or with `all`,
   * logits [ids.length, vocab] after every id.
   */
  async forward(ids: readonly number[], options: ForwardOptions = {}): Promise<Float32Array> {
    if (ids.length === 0) throw new EngineError('CONFIG_INVALID', 'Nothing to feed: the token list is empty.');
    const vocab = this.vocabSize;
    const logits = new Float32Array((options.all ? ids.length : 1) * vocab);
    const start = this.kv.length;
    const watched = options.signal !== undefined || options.onProgress !== undefined;
    let lastReport = performance.now();
    let previousChunk: Promise<void> | null = null;
    let done = 0;
    while (done < ids.length) {
      if (options.signal?.aborted) throw this.abortFeed(start, done, ids.length);
      const n = Math.min(ids.length - done, this.kv.config.maxChunk);
      const last = done + n === ids.length;
      const rows = options.all ? n : last ? 1 : 0;
      const out = await this.runChunk(ids, done, n, rows);
      if (options.all) logits.set(out, done * vocab);
      else if (last) logits.set(out);
      done += n;
      // A long prefill queues chunks far faster than the GPU runs them and may never yield to
      // the event loop. Keeping one chunk in flight (waiting for the one before) bounds the work
      // a stop has to wait for, lets the stop message in, and makes progress count what the GPU
      // has really read.
      if (watched && !last) {
        const chunkDone = this.device.queue.onSubmittedWorkDone();
        if (previousChunk) await previousChunk;
        previousChunk = chunkDone;
        if (performance.now() - lastReport > REPORT_MS) {
          lastReport = performance.now();
          options.onProgress?.(done - n, ids.length);
        }
      }
    }
    options.onProgress?.(done, ids.length);
    return logits;
  }

  /** Stops a feed between chunks: rolled back while the cache still allows it, otherwise the
   *  stream keeps the `done` ids fed so far and no longer matches what the caller meant to feed. */
  private abortFeed(start: number, done: number, total: number): EngineError {
    if (this.kv.canTruncateTo(start)) {
      this.kv.truncateTo(start);
      return new EngineError('ABORTED', 'Stopped.');
    }
    return new EngineError('ABORTED', 'Stopped.', `The stream keeps ${done} of the ${total} ids of this feed; rebuild it before going on.`);
  }

  /**
   * Feeds one id and returns the k best logits after it among the ids not in `penalized`, and the
   * raw logits of those, picked on the GPU so that only these are read back (Sampler.sampleTop
   * turns them into exactly the token sample() would pick). Returns the whole row instead when the
   * GPU cannot pick (NaN or +Infinity among the logits, every logit -Infinity, k above MAX_TOP_K,
   * more than MAX_PENALIZED penalized ids) and for more than one id. The returned picks are reused
   * by the next call.
   */
  async forwardTop(ids: readonly number[], k: number, penalized: readonly number[], options: { signal?: AbortSignal } = {}): Promise<TopLogits | Float32Array> {
    if (ids.length !== 1 || k > MAX_TOP_K || penalized.length > MAX_PENALIZED) return this.forward(ids, options);
    if (options.signal?.aborted) throw new EngineError('ABORTED', 'Stopped.');
    await this.runChunk(ids, 0, 1, 0);
    const bucket = this.bucket(1);
    const start = performance.now();
    const pick = await this.topLogits.top(bucket.logits, 0, k, penalized);
    const result = pick.bad > 0 || (pick.count === 0 && !anyFinite(pick.penalized)) ? await this.readLogits(bucket, 1, 1) : pick;
    if (this.profile) this.profile.readbackMs += performance.now() - start;
    return result;
  }

  /** Runs ids[from, from + n) through every segment and attention layer as one chunk; reads back
   *  the logits of its last `rows` tokens. */
  private async runChunk(ids: readonly number[], from: number, n: number, rows: number): Promise<Float32Array> {
    // One-token chunks always run on the same bucket's buffers, so they can replay a captured graph.
    const replay = n === 1;
    const bucket = this.bucket(replay ? 1 : this.maxChunk);
    // int64 ids written as two int32 halves (little-endian, ids < 2^31): no BigInt per token.
    for (let j = 0; j < n; j++) {
      bucket.idWords[2 * j] = ids[from + j];
      bucket.idWords[2 * j + 1] = 0;
    }
    this.device.queue.writeBuffer(bucket.ids, 0, bucket.idWords, 0, 2 * n);
    this.attention.beginChunk(n);
    try {
      for (let i = 0; i <= this.layerCount; i++) {
        let start = performance.now();
        await this.sessions.run(i, bucket.feeds[i], bucket.fetches[i], replay);
        if (this.profile) {
          await this.device.queue.onSubmittedWorkDone();
          this.profile.segmentsMs += performance.now() - start;
        }
        if (i < this.layerCount) {
          start = performance.now();
          this.attention.run(i, bucket.attentionIo[i]);
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
    if (rows === 0) return NO_LOGITS;
    const start = performance.now();
    const logits = await this.readLogits(bucket, n, rows);
    if (this.profile) this.profile.readbackMs += performance.now() - start;
    return logits;
  }

  private get logitsName(): string {
    const last = this.split.segments[this.layerCount];
    return last.outputs[last.outputs.length - 1].name;
  }

  /** The logits of rows [nNew - rows, nNew) of the chunk that just ran in `bucket`. */
  private async readLogits(bucket: Bucket, nNew: number, rows: number): Promise<Float32Array> {
    const bytesPerValue = this.split.dtype === 'float16' ? 2 : 4;
    const rowBytes = this.vocabSize * bytesPerValue;
    const size = align4(rows * rowBytes);
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(bucket.logits, (nNew - rows) * rowBytes, bucket.logitsStaging, 0, size);
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
      // Everything a chunk hands to onnxruntime and the kernel is built once per bucket.
      const ids = this.device.createBuffer({ label: `decoder.n${n}.ids`, size: align16(n * 8), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
      const idsTensor = gpuTensor(ids, 'int64', [1, n]);
      const slot = (name: string) => this.plan.slotOf.get(name)!;
      const feeds = this.split.segments.map((segment) =>
        Object.fromEntries(segment.inputs.map((input) => [input.name, input.dtype === 'int64' ? idsTensor : tensors[slot(input.name)]])),
      );
      // An output written per head is the same bytes under other dims (see BoundaryTensor).
      const fetch = (output: BoundaryTensor) => (output.tokenShape ? gpuTensor(buffers[slot(output.name)], dtype, boundaryDims(output, n)) : tensors[slot(output.name)]);
      const fetches = this.split.segments.map((segment) => Object.fromEntries(segment.outputs.map((output) => [output.name, fetch(output)])));
      const attentionIo = this.split.sites.map((site) => ({
        q: buffers[slot(site.q)],
        k: buffers[slot(site.k)],
        v: buffers[slot(site.v)],
        out: buffers[slot(site.out)],
      }));
      bucket = { n, buffers, tensors, logitsStaging, ids, idWords: new Int32Array(2 * n), feeds, fetches, attentionIo, logits: buffers[slot(this.logitsName)] };
      this.buckets.set(n, bucket);
    }
    return bucket;
  }

  /**
   * Feeds a prefill chunk and a token, reads the logits back both ways a reply does, and forgets
   * it all. onnxruntime compiles its kernels for each of the two shapes and captures the one-token
   * graphs on first use, and so do the attention kernel and the token pick; done here, the first
   * reply starts as fast as the second.
   */
  private async warmUp(): Promise<void> {
    const { maxChunk } = this;
    if (maxChunk > 1) await this.runChunk(new Array<number>(maxChunk).fill(0), 0, maxChunk, 1);
    this.kv.reset();
    await this.forward([0]);
    this.kv.reset();
    await this.forwardTop([0], 1, []);
    this.kv.reset();
  }

  async destroy(): Promise<void> {
    await this.sessions.release();
    for (const bucket of this.buckets.values()) {
      for (const b of [...bucket.buffers, bucket.logitsStaging, bucket.ids]) b.destroy();
    }
    this.home.attention.destroy();
    this.topLogits.destroy();
    this.home.kv.destroy();
  }
}

/** What a chunk that reads no logits back returns. */
const NO_LOGITS = new Float32Array(0);

function anyFinite(picked: IdLogits): boolean {
  for (let i = 0; i < picked.count; i++) if (picked.logits[i] !== -Infinity) return true;
  return false;
}

function align4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

function align16(n: number): number {
  return Math.ceil(n / 16) * 16;
}
