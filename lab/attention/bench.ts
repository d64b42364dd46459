// Decode benchmark: per-layer decode time of the split (flash-decoding) kernel against the naive
// one-workgroup baseline in attention_naive.wgsl beside it, both on the same filled cache and
// measured in one run, so their ratio means something even on SwiftShader.

import { StreamingAttention } from '../../src/engine/kernels/attention.ts';
import { CHUNK_PARAMS_BYTES, packChunkParams } from '../../src/engine/kernels/chunkParams.ts';
import { fillRopeTable, inverseFrequencies, ropeTableLength, type RopeConfig } from '../../src/engine/kernels/rope.ts';
import { withLayout } from '../../src/engine/kernels/shaderSources.ts';
import attentionNaive from './attention_naive.wgsl?raw';
import { KvCache } from '../../src/engine/kv/kvCache.ts';
import type { BenchRow, BenchSpec } from './attentionLab.ts';
import { mulberry32, normals } from '../random.ts';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timeIt(device: GPUDevice, step: () => void): Promise<number> {
  const start = performance.now();
  step();
  await device.queue.onSubmittedWorkDone();
  return performance.now() - start;
}

async function readF32(device: GPUDevice, buffer: GPUBuffer): Promise<Float32Array> {
  const staging = device.createBuffer({ size: buffer.size, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, 0, staging, 0, buffer.size);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.destroy();
  return out;
}

export async function benchDecode(device: GPUDevice, spec: BenchSpec): Promise<BenchRow[]> {
  const { nHeads, nKvHeads, headDim, nSinks, iterations } = spec;
  const rope: RopeConfig = { theta: 500000, rotaryDim: headDim, layout: 'half' };
  const rng = mulberry32(1234);
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
  const buffer = (floats: number) => device.createBuffer({ size: floats * 4, usage });
  const q = buffer(nHeads * headDim);
  const k = buffer(nKvHeads * headDim);
  const v = buffer(nKvHeads * headDim);
  const out = buffer(nHeads * headDim);
  const naiveOut = buffer(nHeads * headDim);
  device.queue.writeBuffer(q, 0, normals(rng, nHeads * headDim));
  device.queue.writeBuffer(k, 0, normals(rng, nKvHeads * headDim));
  device.queue.writeBuffer(v, 0, normals(rng, nKvHeads * headDim));

  const naiveLayout = device.createBindGroupLayout({
    entries: [0, 1, 2, 3, 4, 5].map((binding) => ({
      binding,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: binding === 0 ? 'uniform' : binding === 5 ? 'storage' : 'read-only-storage' } as GPUBufferBindingLayout,
    })),
  });
  const naive = device.createComputePipeline({
    layout: device.createPipelineLayout({ bindGroupLayouts: [naiveLayout] }),
    compute: {
      module: device.createShaderModule({ code: withLayout(attentionNaive) }),
      entryPoint: 'main',
      constants: { HEAD_DIM: headDim, N_KV_HEADS: nKvHeads, GROUP: nHeads / nKvHeads, ROT_HALF: headDim / 2, INTERLEAVED: 0 },
    },
  });
  const naiveParams = device.createBuffer({ size: CHUNK_PARAMS_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  const naiveRope = buffer(ropeTableLength(1, headDim));

  const rows: BenchRow[] = [];
  for (const window of spec.windows) {
    const cache = KvCache.create(device, { nLayers: 1, nKvHeads, headDim, dtype: 'f32', mode: 'streaming', nSinks, windowSize: window, maxChunk: 1 });
    const slotFloats = cache.layout.nSlots * nKvHeads * headDim;
    device.queue.writeBuffer(cache.layers[0].keys, 0, normals(rng, slotFloats));
    device.queue.writeBuffer(cache.layers[0].values, 0, normals(rng, slotFloats));
    // A stream that has wrapped the ring several times.
    cache.layout.restore({ nTokens: nSinks + 3 * window + 17 });
    const attention = StreamingAttention.create(device, { nHeads, nKvHeads, headDim, ioDtype: 'f32', rope }, cache);

    const split: number[] = [];
    for (let i = 0; i < iterations + 2; i++) {
      const ms = await timeIt(device, () => {
        attention.beginChunk(1);
        attention.run(0, { q, k, v, out });
        attention.endChunk();
      });
      if (i >= 2) split.push(ms);
    }

    // The naive kernel recomputes the last token the split kernel appended.
    const t = cache.layout.nTokens - 1;
    const layout = cache.layout;
    device.queue.writeBuffer(naiveParams, 0, packChunkParams({
      t0: t, nNew: 1, nSinks: layout.nSinks, windowSize: layout.windowSize, ringSize: layout.ringSize, nSplits: 1, scale: 1 / Math.sqrt(headDim),
    }));
    const table = new Float32Array(ropeTableLength(1, headDim));
    fillRopeTable(table, inverseFrequencies(rope), layout, { t0: t, nNew: 1 });
    device.queue.writeBuffer(naiveRope, 0, table);
    const bindGroup = device.createBindGroup({
      layout: naiveLayout,
      entries: [naiveParams, q, cache.layers[0].keys, cache.layers[0].values, naiveRope, naiveOut].map((b, binding) => ({ binding, resource: { buffer: b } })),
    });
    const naiveTimes: number[] = [];
    for (let i = 0; i < iterations + 1; i++) {
      const ms = await timeIt(device, () => {
        const encoder = device.createCommandEncoder();
        const pass = encoder.beginComputePass();
        pass.setPipeline(naive);
        pass.setBindGroup(0, bindGroup);
        pass.dispatchWorkgroups(1);
        pass.end();
        device.queue.submit([encoder.finish()]);
      });
      if (i >= 1) naiveTimes.push(ms);
    }
    const [a, b] = [await readF32(device, out), await readF32(device, naiveOut)];
    let err = 0;
    let norm = 0;
    a.forEach((x, i) => {
      err += (x - b[i]) ** 2;
      norm += b[i] ** 2;
    });
    const splitMs = median(split);
    const naiveMs = median(naiveTimes);
    rows.push({ window, splitMs, naiveMs, speedup: naiveMs / splitMs, agreement: Math.sqrt(err / norm) });
    attention.destroy();
    cache.destroy();
  }
  for (const b of [q, k, v, out, naiveOut, naiveParams, naiveRope]) b.destroy();
  return rows;
}
