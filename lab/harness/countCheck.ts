// What the benchmark's counts rest on, checked on the real device: a known piece of WebGPU work of
// our own and an onnxruntime session run, each counted (lab/harness/gpuCounts.ts), and a call of
// ours made while a run is in flight, which counts as onnxruntime's.

import * as ort from 'onnxruntime-web/webgpu';
import { DataType, GraphBuilder, valueInfo } from '../../src/engine/model/onnxGraph.ts';
import { countsBetween } from '../workCounts.ts';
import { liveGpuBuffers, workCounts } from './gpuCounts.ts';

/** y = x + 1 over four floats. */
function addOneModel(): Uint8Array {
  const g = new GraphBuilder();
  g.node('Add', 'add', ['x', g.float32('one', [1, 4], new Float32Array(4).fill(1))], [], '', ['y']);
  return g.encode({ inputs: [valueInfo('x', DataType.FLOAT, [1, 4])], outputs: [valueInfo('y', DataType.FLOAT, [1, 4])] });
}

export async function countAttribution(device: GPUDevice) {
  const liveBefore = liveGpuBuffers();
  const before = workCounts();
  const storage = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  const staging = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  // A typed array counts its offset and size in elements, an ArrayBuffer in bytes: 8 bytes each.
  device.queue.writeBuffer(storage, 0, new Float32Array([1, 2, 3, 4]), 1, 2);
  device.queue.writeBuffer(storage, 8, new Float32Array([10, 20, 30, 40]).buffer, 4, 8);
  const module = device.createShaderModule({ code: '@group(0) @binding(0) var<storage, read_write> x: array<f32>;\n@compute @workgroup_size(1) fn main() { x[0] = x[0] + 1.0; }' });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: storage } }] });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(1);
  pass.dispatchWorkgroups(1);
  pass.end();
  encoder.copyBufferToBuffer(storage, 0, staging, 0, 16);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ, 0, 12);
  const values = Array.from(new Float32Array(staging.getMappedRange(0, 12)));
  staging.unmap();
  const ours = countsBetween(before, workCounts());
  storage.destroy();
  staging.destroy();
  const liveAdded = liveGpuBuffers() - liveBefore;

  const session = await ort.InferenceSession.create(addOneModel(), { executionProviders: [{ name: 'webgpu', device } as ort.InferenceSession.WebGpuExecutionProviderOption] });
  try {
    const feeds = { x: new ort.Tensor('float32', Float32Array.from([1, 2, 3, 4]), [1, 4]) };
    await session.run(feeds);
    const runStart = workCounts();
    const output = (await session.run(feeds)).y.data;
    const run = countsBetween(runStart, workCounts());
    const target = device.createBuffer({ size: 4, usage: GPUBufferUsage.COPY_DST });
    const overlapStart = workCounts();
    const pending = session.run(feeds);
    device.queue.writeBuffer(target, 0, new Uint32Array(1));
    await pending;
    const overlap = countsBetween(overlapStart, workCounts());
    target.destroy();
    return { values, ours, liveAdded, run, output: Array.from(output as Float32Array), overlap };
  } finally {
    await session.release();
  }
}
