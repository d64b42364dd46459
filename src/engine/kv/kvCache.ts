// The KV cache on the GPU: per layer one K and one V buffer laid out (slot, kvHead, dim), with
// nSinks sink slots at the head and the ring after them (see ringLayout.ts). Allocated once at
// creation; appending, evicting, truncating and resetting only move CPU bookkeeping.
// f16 storage packs two halves per u32 (pack2x16float), so it needs no shader-f16.

import { EngineError } from '../../protocol/errors.ts';
import { FLOAT_BYTES } from '../../protocol/cache.ts';
import { formatBytes } from '../../protocol/format.ts';
import type { CacheChoice, CacheDtype, CacheState } from '../../protocol/messages.ts';
import { align4 } from '../gpu/align.ts';
import { RingLayout } from './ringLayout.ts';

export interface KvCacheConfig extends CacheChoice {
  nLayers: number;
  nKvHeads: number;
  headDim: number;
}

/** The cache as numbers: its shape and how full it is, all that callers above the decoder see. */
/** The cache's own facts, as the chat reports them without its conversation, and its layer count. */
export type KvCacheInfo = Omit<CacheState, 'conversationId' | 'spans'> & { nLayers: number };

/**
 * The cache as the layers above the decoder use it, declared once: how full it is, and moving its
 * stream back. KvCache implements it; the decoder hands it out, so nobody above reaches the ring.
 */
export interface StreamCache {
  /** Tokens in the stream so far. */
  readonly length: number;
  info(): KvCacheInfo;
  /** Whether the stream can go back to its first `length` tokens: nothing the next token would
   *  see has been overwritten yet. */
  canTruncateTo(length: number): boolean;
  /** Cuts the stream back to its first `length` tokens (CACHE_TRUNCATE_IMPOSSIBLE when it cannot). */
  truncateTo(length: number): void;
  /** Forgets the stream; the next token is stream index 0. */
  reset(): void;
  /** The stream's cache as bytes, bookkeeping included. */
  snapshot(): Promise<Uint8Array<ArrayBuffer>>;
  /** Loads snapshot() bytes of a cache of the same model and settings (SNAPSHOT_MISMATCH otherwise). */
  restore(bytes: Uint8Array<ArrayBuffer>): void;
}

export interface LayerCache {
  /** (slot, kvHead, dim): keys rotated by their stream index. */
  keys: GPUBuffer;
  /** (slot, kvHead, dim) */
  values: GPUBuffer;
}

const SNAPSHOT_MAGIC = 0x3153564b; // "KVS1", little-endian

interface SnapshotHeader {
  nLayers: number;
  nKvHeads: number;
  headDim: number;
  dtype: CacheDtype;
  mode: string;
  nSinks: number;
  windowSize: number;
  ringSize: number;
  nTokens: number;
  occupiedSlots: number;
}

export class KvCache implements StreamCache {
  readonly layout: RingLayout;
  readonly layers: LayerCache[];

  private constructor(
    private readonly device: GPUDevice,
    readonly config: KvCacheConfig,
  ) {
    this.layout = new RingLayout(config);
    const size = this.bytesPerSlot * this.layout.nSlots;
    this.layers = Array.from({ length: config.nLayers }, (_, layer) => ({
      keys: this.allocate(size, `kv.keys.${layer}`),
      values: this.allocate(size, `kv.values.${layer}`),
    }));
  }

  /** Validates the shape against the device before allocating anything. */
  static create(device: GPUDevice, config: KvCacheConfig): KvCache {
    const { nLayers, nKvHeads, headDim, dtype } = config;
    const bad = (why: string): never => {
      throw new EngineError('UNSUPPORTED_SHAPE', `Unsupported KV cache shape: ${why}`);
    };
    if (!Number.isInteger(nLayers) || nLayers < 1) bad(`need at least one layer, got ${nLayers}.`);
    if (!Number.isInteger(nKvHeads) || nKvHeads < 1) bad(`need at least one KV head, got ${nKvHeads}.`);
    if (!Number.isInteger(headDim) || headDim < 2 || headDim % 2 !== 0) bad(`the head dim must be even, got ${headDim}.`);
    if (dtype !== 'f32' && dtype !== 'f16') bad(`unknown storage dtype "${String(dtype)}".`);
    const layout = new RingLayout(config);
    const bytes = layout.nSlots * nKvHeads * headDim * FLOAT_BYTES[dtype];
    const limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
    if (bytes > limit) {
      throw new EngineError(
        'DEVICE_LIMIT',
        `The KV cache needs ${formatBytes(bytes)} per layer buffer but this GPU binds at most ${formatBytes(limit)}; ` +
          'choose a smaller window or chunk size.',
        `slots=${layout.nSlots} kvHeads=${nKvHeads} headDim=${headDim} dtype=${dtype}`,
      );
    }
    return new KvCache(device, config);
  }

  /** Bytes one cached token takes in one layer's K (or V) buffer. */
  get bytesPerSlot(): number {
    return this.config.nKvHeads * this.config.headDim * FLOAT_BYTES[this.config.dtype];
  }

  /** GPU bytes held by the whole cache. */
  get totalBytes(): number {
    return 2 * this.config.nLayers * this.layout.nSlots * this.bytesPerSlot;
  }

  /** Tokens in the stream so far. */
  get length(): number {
    return this.layout.nTokens;
  }

  info(): KvCacheInfo {
    const { nSinks, windowSize, ringSize, nTokens } = this.layout;
    return {
      nLayers: this.config.nLayers,
      nSinks,
      windowSize,
      ringSize,
      nTokens,
      evicted: this.layout.evictedCount,
      ring: this.layout.picture,
      dtype: this.config.dtype,
      bytesPerToken: 2 * this.config.nLayers * this.bytesPerSlot,
      totalBytes: this.totalBytes,
    };
  }

  /** Whether the stream can be cut back to its first `length` tokens with nothing the next token
   *  needs already overwritten. */
  canTruncateTo(length: number): boolean {
    return this.layout.canTruncateTo(length);
  }

  /** Cuts the stream back to its first `length` tokens (CACHE_TRUNCATE_IMPOSSIBLE when it cannot). */
  truncateTo(length: number): void {
    this.layout.truncate(length);
  }

  /** Forgets the stream; the next token is stream index 0. */
  reset(): void {
    this.layout.reset();
  }

  /** The whole cache, bookkeeping and the occupied slots of every layer, as bytes. */
  async snapshot(): Promise<Uint8Array<ArrayBuffer>> {
    const occupied = this.layout.occupiedSlots;
    const header: SnapshotHeader = {
      ...this.shapeHeader(),
      nTokens: this.layout.nTokens,
      occupiedSlots: occupied,
    };
    const headerBytes = new TextEncoder().encode(JSON.stringify(header));
    const headerPadded = align4(headerBytes.length);
    const layerBytes = occupied * this.bytesPerSlot;
    const payload = 2 * this.config.nLayers * layerBytes;
    const out = new Uint8Array(8 + headerPadded + payload);
    const view = new DataView(out.buffer);
    view.setUint32(0, SNAPSHOT_MAGIC, true);
    view.setUint32(4, headerBytes.length, true);
    out.set(headerBytes, 8);
    if (payload === 0) return out;

    const staging = this.device.createBuffer({ size: payload, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
    const encoder = this.device.createCommandEncoder();
    this.layers.forEach((layer, i) => {
      encoder.copyBufferToBuffer(layer.keys, 0, staging, 2 * i * layerBytes, layerBytes);
      encoder.copyBufferToBuffer(layer.values, 0, staging, (2 * i + 1) * layerBytes, layerBytes);
    });
    this.device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    out.set(new Uint8Array(staging.getMappedRange()), 8 + headerPadded);
    staging.destroy();
    return out;
  }

  /** Loads a snapshot taken from a cache of the same shape and settings. */
  restore(bytes: Uint8Array<ArrayBuffer>): void {
    const mismatch = (why: string): never => {
      throw new EngineError(
        'SNAPSHOT_MISMATCH',
        `This saved cache does not fit the loaded model and settings (${why}); the conversation will be rebuilt from its transcript.`,
      );
    };
    if (bytes.byteLength < 8) mismatch('too short');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (view.getUint32(0, true) !== SNAPSHOT_MAGIC) mismatch('not a cache snapshot');
    const headerLength = view.getUint32(4, true);
    if (8 + headerLength > bytes.byteLength) mismatch('truncated header');
    let header: SnapshotHeader;
    try {
      header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as SnapshotHeader;
    } catch {
      return mismatch('unreadable header');
    }
    const expected = this.shapeHeader();
    for (const key of Object.keys(expected) as (keyof typeof expected)[]) {
      if (header[key] !== expected[key]) mismatch(`${key} is ${String(header[key])}, expected ${String(expected[key])}`);
    }
    const occupied = Math.min(header.nTokens, this.layout.nSlots);
    if (header.occupiedSlots !== occupied) mismatch('slot count does not match the token count');
    const layerBytes = occupied * this.bytesPerSlot;
    const start = 8 + align4(headerLength);
    if (bytes.byteLength !== start + 2 * this.config.nLayers * layerBytes) mismatch('wrong payload size');

    this.layers.forEach((layer, i) => {
      const keysAt = start + 2 * i * layerBytes;
      this.device.queue.writeBuffer(layer.keys, 0, bytes, keysAt, layerBytes);
      this.device.queue.writeBuffer(layer.values, 0, bytes, keysAt + layerBytes, layerBytes);
    });
    this.layout.restore({ nTokens: header.nTokens });
  }

  destroy(): void {
    for (const layer of this.layers) {
      layer.keys.destroy();
      layer.values.destroy();
    }
  }

  private shapeHeader(): Omit<SnapshotHeader, 'nTokens' | 'occupiedSlots'> {
    const { nLayers, nKvHeads, headDim, dtype } = this.config;
    const { mode, nSinks, windowSize, ringSize } = this.layout;
    return { nLayers, nKvHeads, headDim, dtype, mode, nSinks, windowSize, ringSize };
  }

  private allocate(size: number, label: string): GPUBuffer {
    return this.device.createBuffer({
      label,
      size: align4(size),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
  }
}
