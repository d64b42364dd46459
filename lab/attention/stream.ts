// A test stream: seeded random q/k/v for every token of every layer, fed through KvCache and
// StreamingAttention chunk by chunk, with every output collected on the GPU and read back once.

import { StreamingAttention } from '../../src/engine/kernels/attention.ts';
import { KvCache } from '../../src/engine/kv/kvCache.ts';
import { align4 } from '../../src/engine/gpu/align.ts';
import { FLOAT_BYTES } from '../../src/protocol/cache.ts';
import { mulberry32, normals } from '../random.ts';
import type { StreamSpec } from './attentionLab.ts';

const STORAGE_IO = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;

export class LabStream {
  readonly cache: KvCache;
  readonly attention: StreamingAttention;
  /** Per layer, per token: raw q [nHeads*headDim], k and v [nKvHeads*headDim], as the GPU receives them. */
  private q: Float32Array[][] = [];
  private k: Float32Array[][] = [];
  private v: Float32Array[][] = [];
  private readonly io: { q: GPUBuffer; k: GPUBuffer; v: GPUBuffer; out: GPUBuffer };
  private readonly results: GPUBuffer[];
  private readonly outBytesPerToken: number;
  private rngState: () => number;

  constructor(
    private readonly device: GPUDevice,
    readonly spec: StreamSpec,
    readonly capacityTokens: number,
  ) {
    const { nLayers, nHeads, nKvHeads, headDim, ioDtype, cacheDtype, mode, nSinks, windowSize, maxChunk } = spec;
    this.cache = KvCache.create(device, { nLayers, nKvHeads, headDim, dtype: cacheDtype, mode, nSinks, windowSize, maxChunk });
    this.attention = StreamingAttention.create(device, { nHeads, nKvHeads, headDim, ioDtype, scale: spec.scale, rope: spec.rope }, this.cache);
    const size = (heads: number) => align4(maxChunk * heads * headDim * FLOAT_BYTES[ioDtype]);
    this.io = {
      q: device.createBuffer({ size: size(nHeads), usage: STORAGE_IO }),
      k: device.createBuffer({ size: size(nKvHeads), usage: STORAGE_IO }),
      v: device.createBuffer({ size: size(nKvHeads), usage: STORAGE_IO }),
      out: device.createBuffer({ size: size(nHeads), usage: STORAGE_IO }),
    };
    this.outBytesPerToken = nHeads * headDim * FLOAT_BYTES[ioDtype];
    this.results = Array.from({ length: nLayers }, () =>
      device.createBuffer({ size: align4(capacityTokens * this.outBytesPerToken), usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC }),
    );
    this.rngState = mulberry32(spec.seed);
    for (let layer = 0; layer < nLayers; layer++) {
      this.q.push([]);
      this.k.push([]);
      this.v.push([]);
    }
  }

  /** Raw tensors of token t in a layer, generated on first use (f16-rounded when the io is f16). */
  tensors(layer: number, t: number): { q: Float32Array; k: Float32Array; v: Float32Array } {
    const { nHeads, nKvHeads, headDim, ioDtype, nLayers } = this.spec;
    while (this.q[layer].length <= t) {
      for (let l = 0; l < nLayers; l++) {
        const round = (x: Float32Array) => (ioDtype === 'f16' ? x.map((value) => Math.f16round(value)) : x);
        this.q[l].push(round(normals(this.rngState, nHeads * headDim)));
        this.k[l].push(round(normals(this.rngState, nKvHeads * headDim)));
        this.v[l].push(round(normals(this.rngState, nKvHeads * headDim)));
      }
    }
    return { q: this.q[layer][t], k: this.k[layer][t], v: this.v[layer][t] };
  }

  /** Forgets the tensors of tokens t >= from and draws new ones with another seed (a regenerated reply). */
  reroll(from: number, seed: number): void {
    for (let l = 0; l < this.spec.nLayers; l++) {
      this.q[l].length = Math.min(this.q[l].length, from);
      this.k[l].length = Math.min(this.k[l].length, from);
      this.v[l].length = Math.min(this.v[l].length, from);
    }
    this.rngState = mulberry32(seed);
  }

  /** Feeds chunks through every layer; outputs land in the per-layer result buffers at their stream index. */
  feed(chunks: number[]): void {
    const { nLayers, ioDtype } = this.spec;
    for (const n of chunks) {
      const plan = this.attention.beginChunk(n);
      for (let layer = 0; layer < nLayers; layer++) {
        const gather = (pick: 'q' | 'k' | 'v') => {
          const rows = Array.from({ length: n }, (_, i) => this.tensors(layer, plan.t0 + i)[pick]);
          const flat = new Float32Array(rows.reduce((a, r) => a + r.length, 0));
          rows.forEach((r, i) => flat.set(r, i * r.length));
          return ioDtype === 'f16' ? new Float16Array(flat) : flat;
        };
        this.device.queue.writeBuffer(this.io.q, 0, gather('q'));
        this.device.queue.writeBuffer(this.io.k, 0, gather('k'));
        this.device.queue.writeBuffer(this.io.v, 0, gather('v'));
        const outElements = (n * this.outBytesPerToken) / FLOAT_BYTES[ioDtype];
        const poison = ioDtype === 'f16' ? new Float16Array(outElements).fill(NaN) : new Float32Array(outElements).fill(NaN);
        this.device.queue.writeBuffer(this.io.out, 0, poison);
        this.attention.run(layer, this.io);
        const encoder = this.device.createCommandEncoder();
        encoder.copyBufferToBuffer(this.io.out, 0, this.results[layer], plan.t0 * this.outBytesPerToken, align4(n * this.outBytesPerToken));
        this.device.queue.submit([encoder.finish()]);
      }
      this.attention.endChunk();
    }
  }

  /** Outputs of tokens 0..nTokens-1 per layer, as f32 [t][nHeads*headDim]. */
  async outputs(): Promise<Float32Array[]> {
    const tokens = this.cache.length;
    const bytes = align4(tokens * this.outBytesPerToken);
    const result: Float32Array[] = [];
    for (const buffer of this.results) {
      const staging = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
      const encoder = this.device.createCommandEncoder();
      encoder.copyBufferToBuffer(buffer, 0, staging, 0, bytes);
      this.device.queue.submit([encoder.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      const raw = staging.getMappedRange().slice(0);
      staging.destroy();
      const perToken = this.outBytesPerToken / FLOAT_BYTES[this.spec.ioDtype];
      const values = this.spec.ioDtype === 'f16' ? new Float32Array(new Float16Array(raw, 0, tokens * perToken)) : new Float32Array(raw, 0, tokens * perToken);
      result.push(values);
    }
    return result;
  }

  destroy(): void {
    this.cache.destroy();
    this.attention.destroy();
    for (const b of [...Object.values(this.io), ...this.results]) b.destroy();
  }
}
