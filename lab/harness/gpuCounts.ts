// Counts the WebGPU work of a page (submits, dispatches, bind groups, buffer writes, buffers and
// encoders created, reads) by wrapping the WebGPU prototypes when this module loads, and counts
// live GPU buffers, the measure of a leak that the benchmark and the soak watch. Import it before
// anything creates a device. A call made while an onnxruntime session run is in flight counts as
// onnxruntime's: the engine awaits each run before issuing its own work, so nothing of ours
// interleaves with one.

import { InferenceSession } from 'onnxruntime-web/webgpu';
import { zeroCounts, type OwnedCounts, type WorkCounts } from '../workCounts.ts';

const counts: OwnedCounts = { ours: zeroCounts(), onnxruntime: zeroCounts() };
let runsInFlight = 0;
const owner = (): WorkCounts => (runsInFlight > 0 ? counts.onnxruntime : counts.ours);

// The factory's type hides that it is the sessions' class.
const sessions = (InferenceSession as unknown as { prototype: InferenceSession }).prototype;
const run = sessions.run;
sessions.run = async function (this: InferenceSession, ...args: Parameters<typeof run>) {
  runsInFlight++;
  try {
    return await run.apply(this, args);
  } finally {
    runsInFlight--;
  }
} as typeof run;

type Args<F> = F extends (...args: infer A) => unknown ? A : never;

/** Replaces `proto[name]` with a function that calls `count` with the call's `this` and arguments first. */
function wrap<P, K extends keyof P>(proto: P, name: K, count: (self: P, args: Args<P[K]>) => void): void {
  const original = proto[name] as (...args: unknown[]) => unknown;
  proto[name] = function (this: P, ...args: Args<P[K]>) {
    count(this, args);
    return original.apply(this, args);
  } as P[K];
}

/** Bytes a writeBuffer call copies: offset and size count elements of a typed array, bytes otherwise. */
function writtenBytes(data: GPUAllowSharedBufferSource, dataOffset = 0, size?: number): number {
  const element = ArrayBuffer.isView(data) && !(data instanceof DataView) ? (data as Uint8Array).BYTES_PER_ELEMENT : 1;
  const length = data.byteLength / element;
  return (size ?? length - dataOffset) * element;
}

let live = 0;
const liveBuffers = new WeakSet<GPUBuffer>();

wrap(GPUQueue.prototype, 'submit', () => owner().submits++);
wrap(GPUQueue.prototype, 'writeBuffer', (_, [, , data, dataOffset, size]) => {
  const c = owner();
  c.writeBuffers++;
  c.writeBytes += writtenBytes(data, dataOffset, size);
});
wrap(GPUComputePassEncoder.prototype, 'dispatchWorkgroups', () => owner().dispatches++);
wrap(GPUComputePassEncoder.prototype, 'dispatchWorkgroupsIndirect', () => owner().dispatches++);
wrap(GPUDevice.prototype, 'createBindGroup', () => owner().bindGroups++);
wrap(GPUDevice.prototype, 'createCommandEncoder', () => owner().encoders++);
wrap(GPUBuffer.prototype, 'mapAsync', (buffer, [mode, offset = 0, size]) => {
  if (!(mode & GPUMapMode.READ)) return;
  const c = owner();
  c.mapAsyncs++;
  c.readBytes += size ?? buffer.size - offset;
});
wrap(GPUBuffer.prototype, 'destroy', (buffer) => {
  if (liveBuffers.delete(buffer)) live--;
});
const createBuffer = GPUDevice.prototype.createBuffer;
GPUDevice.prototype.createBuffer = function (this: GPUDevice, descriptor: GPUBufferDescriptor) {
  const buffer = createBuffer.call(this, descriptor);
  owner().buffers++;
  liveBuffers.add(buffer);
  live++;
  return buffer;
};

/** Everything counted since the page loaded; subtract two readings (countsBetween) for a stretch of work. */
export function workCounts(): OwnedCounts {
  return { ours: { ...counts.ours }, onnxruntime: { ...counts.onnxruntime } };
}

/** Buffers created in this page and not destroyed yet. */
export const liveGpuBuffers = (): number => live;
