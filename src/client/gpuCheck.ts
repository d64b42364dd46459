// Whether this browser can run the engine at all, asked before anything else loads, and what its
// GPU allows (shader-f16, the largest buffer), which the model picker checks models against
// before any download. Only an adapter is requested here: the engine creates its own device in
// the worker, with the same adapter's features and maximum limits.

import { useEffect, useState } from 'react';
import type { DeviceCaps } from '../models/catalog.ts';

export type GpuCheck = { state: 'checking' } | { state: 'ok'; caps: DeviceCaps } | { state: 'missing'; reason: 'no-webgpu' | 'no-adapter' };

let asked: Promise<GpuCheck> | null = null;

/** Asked once per page: an adapter's features and limits do not change while it lives. */
export function checkWebGpu(): Promise<GpuCheck> {
  asked ??= (async (): Promise<GpuCheck> => {
    const gpu = globalThis.navigator?.gpu;
    if (!gpu) return { state: 'missing', reason: 'no-webgpu' };
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' }).catch(() => null);
    if (!adapter) return { state: 'missing', reason: 'no-adapter' };
    return {
      state: 'ok',
      caps: {
        hasShaderF16: adapter.features.has('shader-f16'),
        maxBufferSize: adapter.limits.maxBufferSize,
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      },
    };
  })();
  return asked;
}

export function useGpuCheck(): GpuCheck {
  const [check, setCheck] = useState<GpuCheck>({ state: 'checking' });
  useEffect(() => {
    let cancelled = false;
    void checkWebGpu().then((result) => !cancelled && setCheck(result));
    return () => {
      cancelled = true;
    };
  }, []);
  return check;
}

/** The GPU's features and limits, once the check has answered; null until then (or without WebGPU). */
export function useDeviceCaps(): DeviceCaps | null {
  const [caps, setCaps] = useState<DeviceCaps | null>(null);
  useEffect(() => {
    let live = true;
    void checkWebGpu().then((check) => live && check.state === 'ok' && setCaps(check.caps));
    return () => {
      live = false;
    };
  }, []);
  return caps;
}
