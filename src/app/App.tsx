// The app shell: checks that this browser can run the engine, then shows the chat (or the screen
// that says what to do without WebGPU).

import { ChatApp } from './ChatApp.tsx';
import { useGpuCheck } from '../client/gpuCheck.ts';
import { NoWebGpu } from './NoWebGpu.tsx';

export function App() {
  const gpu = useGpuCheck();
  if (gpu.state === 'checking') {
    return (
      <main className="screen" aria-busy="true">
        <p className="muted">Checking WebGPU…</p>
      </main>
    );
  }
  if (gpu.state === 'missing') return <NoWebGpu reason={gpu.reason} />;
  return <ChatApp />;
}
