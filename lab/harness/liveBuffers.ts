// Counts live GPU buffers in a page, by wrapping GPUDevice.createBuffer and each buffer's destroy:
// the measure of a leak that the benchmark and the soak watch.

let live = 0;
const createBuffer = GPUDevice.prototype.createBuffer;
GPUDevice.prototype.createBuffer = function (descriptor: GPUBufferDescriptor) {
  const buffer = createBuffer.call(this, descriptor);
  live++;
  const destroy = buffer.destroy.bind(buffer);
  let destroyed = false;
  buffer.destroy = () => {
    if (!destroyed) live--;
    destroyed = true;
    destroy();
  };
  return buffer;
};

/** Buffers created in this page and not destroyed yet. */
export const liveGpuBuffers = (): number => live;
