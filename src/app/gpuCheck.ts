// Whether this browser can run the engine at all, asked before anything else loads. Only an
// adapter is requested here: the engine creates its own device in the worker.

import { useEffect, useState } from 'react';

export type GpuCheck = { state: 'checking' } | { state: 'ok' } | { state: 'missing'; reason: 'no-webgpu' | 'no-adapter' };

async function checkWebGpu(): Promise<GpuCheck> {
  const gpu = globalThis.navigator?.gpu;
  if (!gpu) return { state: 'missing', reason: 'no-webgpu' };
  const adapter = await gpu.requestAdapter().catch(() => null);
  return adapter ? { state: 'ok' } : { state: 'missing', reason: 'no-adapter' };
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
