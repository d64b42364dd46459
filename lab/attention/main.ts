// The kernel lab: a page that runs the attention kernel in the browser on seeded inputs and
// compares it with the float64 reference. Driven through window.attentionLab by tests/gpu and
// tools/benchAttention.ts.

import { createGpuContext, type GpuContext } from '../../src/engine/gpu/device.ts';
import { StreamingAttention } from '../../src/engine/kernels/attention.ts';
import { KvCache } from '../../src/engine/kv/kvCache.ts';
import { EngineError } from '../../src/protocol/errors.ts';
import { referenceAttention, type ReferenceStream } from '../reference/attention.ts';
import type { AttentionLab, CaseSpec, Comparison, StreamSpec } from './attentionLab.ts';
import { benchDecode } from './bench.ts';
import { mulberry32 } from '../random.ts';
import { LabStream } from './stream.ts';

let context: Promise<GpuContext> | null = null;
const gpu = () => (context ??= createGpuContext());

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** Compares tokens [from, to) of a stream's outputs with the reference: first and last 48 and a seeded sample. */
function compare(stream: LabStream, outputs: Float32Array[], from: number, to: number, maxChecked: number): Comparison {
  const { nHeads, headDim, nLayers } = stream.spec;
  const width = nHeads * headDim;
  let nonFinite = 0;
  for (const layer of outputs) {
    for (let e = from * width; e < to * width; e++) if (!Number.isFinite(layer[e])) nonFinite++;
  }
  const span = to - from;
  const rng = mulberry32(stream.spec.seed ^ 0x5eed);
  const rate = Math.min(1, Math.max(0, maxChecked - 96) / Math.max(1, span - 96));
  const tokens: number[] = [];
  for (let t = from; t < to; t++) {
    if (t - from < 48 || to - t <= 48 || rng() < rate) tokens.push(t);
  }
  let maxRelL2 = 0;
  let worst: Comparison['worst'] = null;
  for (let layer = 0; layer < nLayers; layer++) {
    const data: ReferenceStream = {
      q: (t) => stream.tensors(layer, t).q,
      k: (t) => stream.tensors(layer, t).k,
      v: (t) => stream.tensors(layer, t).v,
    };
    for (const t of tokens) {
      const expected = referenceAttention(stream.spec, data, t);
      const got = outputs[layer].subarray(t * width, (t + 1) * width);
      let err = 0;
      let norm = 0;
      for (let e = 0; e < width; e++) {
        err += (got[e] - expected[e]) ** 2;
        norm += expected[e] ** 2;
      }
      const rel = Math.sqrt(err / norm);
      if (!(rel <= maxRelL2)) {
        maxRelL2 = Number.isNaN(rel) ? Infinity : rel;
        worst = { layer, t, got: Array.from(got.subarray(0, 8)), expected: Array.from(expected.subarray(0, 8)) };
      }
    }
  }
  return { checked: tokens.length * nLayers, maxRelL2, worst, nonFinite };
}

async function withStream<T>(spec: StreamSpec, capacity: number, body: (s: LabStream, device: GPUDevice) => Promise<T>): Promise<T> {
  const { device } = await gpu();
  const stream = new LabStream(device, spec, capacity);
  try {
    return await body(stream, device);
  } finally {
    stream.destroy();
  }
}

function relativeL2(a: Float32Array, b: Float32Array): number {
  let err = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    err += (a[i] - b[i]) ** 2;
    norm += b[i] ** 2;
  }
  return Math.sqrt(err / norm);
}

/** Small valid setup that each invalid case bends in one way. */
const base = {
  nLayers: 1, nKvHeads: 2, nHeads: 4, headDim: 8, dtype: 'f32' as const, mode: 'streaming' as const,
  nSinks: 4, windowSize: 16, maxChunk: 8,
};
const rope = { theta: 10000, rotaryDim: 8, layout: 'half' as const };

const invalidSetups: Record<string, (device: GPUDevice) => void | Promise<void>> = {
  oddHeadDim: (d) => {
    const cache = KvCache.create(d, { ...base });
    StreamingAttention.create(d, { nHeads: 4, nKvHeads: 2, headDim: 7, ioDtype: 'f32', rope }, cache);
  },
  unevenGroups: (d) => {
    const cache = KvCache.create(d, { ...base, nKvHeads: 3 });
    StreamingAttention.create(d, { nHeads: 4, nKvHeads: 3, headDim: 8, ioDtype: 'f32', rope }, cache);
  },
  rotaryDimTooLarge: (d) => {
    const cache = KvCache.create(d, { ...base });
    StreamingAttention.create(d, { nHeads: 4, nKvHeads: 2, headDim: 8, ioDtype: 'f32', rope: { ...rope, rotaryDim: 16 } }, cache);
  },
  chunkTooLarge: (d) => {
    const cache = KvCache.create(d, { ...base });
    StreamingAttention.create(d, { nHeads: 4, nKvHeads: 2, headDim: 8, ioDtype: 'f32', rope }, cache).beginChunk(9);
  },
  denseOverflow: (d) => {
    const cache = KvCache.create(d, { ...base, mode: 'dense', windowSize: 8 });
    const attention = StreamingAttention.create(d, { nHeads: 4, nKvHeads: 2, headDim: 8, ioDtype: 'f32', rope }, cache);
    attention.beginChunk(8);
    attention.endChunk();
    attention.beginChunk(1);
  },
  cacheOverBindingLimit: (d) => {
    const slots = Math.ceil(d.limits.maxStorageBufferBindingSize / (8 * 128 * 4)) + 1;
    KvCache.create(d, { ...base, nKvHeads: 8, headDim: 128, windowSize: slots });
  },
  tooFewStorageBuffers: (d) => {
    const cache = KvCache.create(d, { ...base });
    const limits = { ...limitsOf(d), maxStorageBuffersPerShaderStage: 4 };
    const weak = new Proxy(d, { get: (target, key) => (key === 'limits' ? limits : Reflect.get(target, key, target)) });
    StreamingAttention.create(weak, { nHeads: 4, nKvHeads: 2, headDim: 8, ioDtype: 'f32', rope }, cache);
  },
  headDimOverWorkgroupMemory: (d) => {
    const headDim = 4096;
    const cache = KvCache.create(d, { ...base, headDim });
    StreamingAttention.create(d, { nHeads: 4, nKvHeads: 2, headDim, ioDtype: 'f32', rope }, cache);
  },
  inputBufferTooSmall: (d) => {
    const cache = KvCache.create(d, { ...base });
    const attention = StreamingAttention.create(d, { nHeads: 4, nKvHeads: 2, headDim: 8, ioDtype: 'f32', rope }, cache);
    attention.beginChunk(8);
    const small = d.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE });
    attention.run(0, { q: small, k: small, v: small, out: small });
  },
  windowZero: (d) => {
    KvCache.create(d, { ...base, windowSize: 0 });
  },
};

function limitsOf(device: GPUDevice): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key in device.limits) out[key] = (device.limits as unknown as Record<string, number>)[key];
  return out;
}

const lab: AttentionLab = {
  async adapter() {
    const { device, adapterInfo, hasShaderF16 } = await gpu();
    return { ...adapterInfo, hasShaderF16, limits: limitsOf(device) };
  },

  async runCase(spec: CaseSpec) {
    const tokens = sum(spec.chunks);
    return withStream(spec, tokens, async (stream, device) => {
      const start = performance.now();
      device.pushErrorScope('validation');
      stream.feed(spec.chunks);
      const outputs = await stream.outputs();
      const error = await device.popErrorScope();
      if (error) throw new Error(`WebGPU validation error: ${error.message}`);
      const ms = performance.now() - start;
      return { tokens, ms, ...compare(stream, outputs, 0, tokens, spec.maxChecked ?? 160) };
    });
  },

  async compareSchedules(spec, a, b) {
    const run = (chunks: number[]) =>
      withStream(spec, sum(chunks), async (stream) => {
        stream.feed(chunks);
        return stream.outputs();
      });
    const [outA, outB] = [await run(a), await run(b)];
    let maxRelL2 = 0;
    let nonFinite = 0;
    const width = spec.nHeads * spec.headDim;
    for (let layer = 0; layer < spec.nLayers; layer++) {
      for (let t = 0; t < sum(a); t++) {
        const x = outA[layer].subarray(t * width, (t + 1) * width);
        const y = outB[layer].subarray(t * width, (t + 1) * width);
        for (const value of x) if (!Number.isFinite(value)) nonFinite++;
        maxRelL2 = Math.max(maxRelL2, relativeL2(x, y));
      }
    }
    return { maxRelL2, nonFinite };
  },

  async snapshotRoundTrip(spec, before, after) {
    const total = sum(before) + sum(after);
    return withStream(spec, total, async (first) => {
      first.feed(before);
      const snapshot = await first.cache.snapshot();
      first.feed(after);
      const expected = await first.outputs();
      return withStream(spec, total, async (second) => {
        second.cache.restore(snapshot);
        for (let t = 0; t < sum(before); t++) for (let l = 0; l < spec.nLayers; l++) second.tensors(l, t);
        second.feed(after);
        const got = await second.outputs();
        const width = spec.nHeads * spec.headDim;
        let maxAbsDiff = 0;
        for (let layer = 0; layer < spec.nLayers; layer++) {
          for (let e = sum(before) * width; e < total * width; e++) {
            const diff = Math.abs(got[layer][e] - expected[layer][e]);
            maxAbsDiff = Number.isNaN(diff) ? Infinity : Math.max(maxAbsDiff, diff);
          }
        }
        return { maxAbsDiff, snapshotBytes: snapshot.byteLength, reference: compare(second, got, sum(before), total, 120) };
      });
    });
  },

  async truncateAndRegenerate(spec, before, discarded, after) {
    const kept = sum(before);
    return withStream(spec, kept + Math.max(sum(discarded), sum(after)), async (stream) => {
      stream.feed(before);
      stream.feed(discarded);
      stream.cache.truncateTo(kept);
      stream.reroll(kept, spec.seed + 1);
      stream.feed(after);
      return compare(stream, await stream.outputs(), kept, kept + sum(after), 120);
    });
  },

  async invalidSetup(name) {
    const { device } = await gpu();
    const setup = invalidSetups[name];
    if (!setup) throw new Error(`unknown invalid setup ${name}`);
    device.pushErrorScope('validation');
    try {
      await setup(device);
      return 'NO_ERROR';
    } catch (e) {
      if (e instanceof EngineError) return e.code;
      throw e;
    } finally {
      const gpuError = await device.popErrorScope();
      if (gpuError) throw new Error(`GPU work was attempted before the error: ${gpuError.message}`);
    }
  },

  async benchDecode(spec) {
    const { device } = await gpu();
    return benchDecode(device, spec);
  },

  async slotMaps(config, steps) {
    const { device } = await gpu();
    const headDim = 8;
    const cache = KvCache.create(device, { ...config, nLayers: 1, nKvHeads: 1, headDim, dtype: 'f32' });
    const attention = StreamingAttention.create(device, { nHeads: 1, nKvHeads: 1, headDim, ioDtype: 'f32', rope: { theta: 10000, rotaryDim: headDim, layout: 'half' } }, cache);
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
    const rowBytes = config.maxChunk * headDim * 4;
    const io = { q: device.createBuffer({ size: rowBytes, usage }), k: device.createBuffer({ size: rowBytes, usage }), v: device.createBuffer({ size: rowBytes, usage }), out: device.createBuffer({ size: rowBytes, usage }) };
    const slots = cache.layout.nSlots;
    const staging = device.createBuffer({ size: slots * headDim * 4, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
    const maps: number[][] = [];
    try {
      device.pushErrorScope('validation');
      for (const n of steps) {
        if (n < 0) {
          cache.layout.truncate(cache.layout.nTokens + n);
        } else {
          const plan = attention.beginChunk(n);
          // [n, 1, headDim]: every element of token t is t + 1, exact in f32 for these streams.
          device.queue.writeBuffer(io.v, 0, Float32Array.from({ length: n * headDim }, (_, e) => plan.t0 + Math.floor(e / headDim) + 1));
          attention.run(0, io);
          attention.endChunk();
        }
        const encoder = device.createCommandEncoder();
        encoder.copyBufferToBuffer(cache.layers[0].values, 0, staging, 0, staging.size);
        device.queue.submit([encoder.finish()]);
        await staging.mapAsync(GPUMapMode.READ);
        const values = new Float32Array(staging.getMappedRange().slice(0));
        staging.unmap();
        // A slot whose dims disagree was written half-way: report it as -2.
        maps.push(Array.from({ length: slots }, (_, slot) => {
          const row = values.subarray(slot * headDim, (slot + 1) * headDim);
          return row.every((x) => x === row[0]) ? row[0] - 1 : -2;
        }));
      }
      const error = await device.popErrorScope();
      if (error) throw new Error(`WebGPU validation error: ${error.message}`);
      return maps;
    } finally {
      cache.destroy();
      attention.destroy();
      for (const b of [...Object.values(io), staging]) b.destroy();
    }
  },
};

window.attentionLab = lab;
