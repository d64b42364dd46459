// The one GPUDevice of the engine: requested with the adapter's maximum limits (ORT sessions and
// our kernels share it, and the defaults are too small for real models) and with shader-f16 when
// the adapter offers it.

import { EngineError } from '../../protocol/errors.ts';

const LIMITS_TO_RAISE = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxBindGroups',
  'maxUniformBufferBindingSize',
] as const;

const OPTIONAL_FEATURES: GPUFeatureName[] = ['shader-f16', 'subgroups', 'timestamp-query'];

export interface GpuContext {
  device: GPUDevice;
  adapterInfo: { vendor: string; architecture: string; description: string };
  hasShaderF16: boolean;
}

export async function createGpuContext(gpu: GPU | undefined = globalThis.navigator?.gpu): Promise<GpuContext> {
  if (!gpu) {
    throw new EngineError(
      'WEBGPU_UNAVAILABLE',
      'This browser does not offer WebGPU. Open the page in a recent Chrome or Edge on a machine with a GPU, ' +
        'and check that hardware acceleration is on (chrome://gpu).',
    );
  }
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    throw new EngineError(
      'WEBGPU_UNAVAILABLE',
      'WebGPU is present but found no usable GPU adapter. Update the graphics driver, or enable ' +
        'hardware acceleration in the browser settings, then reload.',
    );
  }
  const requiredLimits: Record<string, number> = {};
  for (const name of LIMITS_TO_RAISE) {
    const value = adapter.limits[name];
    if (typeof value === 'number') requiredLimits[name] = value;
  }
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  const info = adapter.info;
  return {
    device,
    adapterInfo: { vendor: info.vendor, architecture: info.architecture, description: info.description },
    hasShaderF16: device.features.has('shader-f16'),
  };
}
