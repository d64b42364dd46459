// The real engine worker, plus one hook for tests/gpu/faults.test.ts: a { type: 'destroyDevice' }
// message calls destroy() on every GPUDevice the worker created, as a driver reset would.

import '../../../src/engine/engine.worker.ts';

const devices: GPUDevice[] = [];
const requestDevice = GPUAdapter.prototype.requestDevice;
GPUAdapter.prototype.requestDevice = async function (this: GPUAdapter, descriptor?: GPUDeviceDescriptor) {
  const device = await requestDevice.call(this, descriptor);
  devices.push(device);
  return device;
};

self.addEventListener('message', (message: MessageEvent<{ type: string }>) => {
  if (message.data.type === 'destroyDevice') for (const device of devices) device.destroy();
});
