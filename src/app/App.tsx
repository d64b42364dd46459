// The app shell. For now it checks what this browser's GPU offers the engine; the chat view
// (issue 5) mounts here once the decoder runtime lands.
import { useEffect, useState } from 'react';
import { createGpuContext, type GpuContext } from '../engine/gpu/device.ts';
import { EngineError } from '../protocol/errors.ts';

type GpuCheck = { state: 'checking' } | { state: 'ready'; gpu: GpuContext } | { state: 'failed'; message: string };

export function App() {
  const [check, setCheck] = useState<GpuCheck>({ state: 'checking' });

  useEffect(() => {
    let cancelled = false;
    createGpuContext()
      .then((gpu) => !cancelled && setCheck({ state: 'ready', gpu }))
      .catch((e: unknown) => {
        const message = e instanceof EngineError ? e.message : `WebGPU could not start: ${String(e)}`;
        if (!cancelled) setCheck({ state: 'failed', message });
      });
    return () => {
      cancelled = true;
    };
  }, []);

  return (
    <main className="shell">
      <h1>Endless Chat</h1>
      <p className="lead">
        A chat with a language model that runs on your GPU, in this tab, and never runs out of context: the model keeps
        the first tokens of the conversation as attention sinks plus a rolling window of the most recent ones.
      </p>
      <section aria-live="polite" className="card">
        <h2>Your GPU</h2>
        {check.state === 'checking' && <p>Checking WebGPU…</p>}
        {check.state === 'failed' && <p role="alert">{check.message}</p>}
        {check.state === 'ready' && <GpuFacts gpu={check.gpu} />}
      </section>
      <p className="note">The chat itself is not built yet: this page only checks that your browser can run the engine.</p>
    </main>
  );
}

function GpuFacts({ gpu }: { gpu: GpuContext }) {
  const { adapterInfo, hasShaderF16, device } = gpu;
  const mib = (n: number) => `${Math.round(n / 2 ** 20)} MiB`;
  return (
    <dl>
      <dt>Adapter</dt>
      <dd>{[adapterInfo.vendor, adapterInfo.architecture, adapterInfo.description].filter(Boolean).join(' · ') || 'unnamed'}</dd>
      <dt>16-bit float shaders</dt>
      <dd>{hasShaderF16 ? 'yes (f16 models can run)' : 'no (f32 and q4 models only)'}</dd>
      <dt>Largest buffer</dt>
      <dd>{mib(device.limits.maxBufferSize)}</dd>
      <dt>Largest storage binding</dt>
      <dd>{mib(device.limits.maxStorageBufferBindingSize)}</dd>
    </dl>
  );
}
