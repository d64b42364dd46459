// The app shell: checks that this browser can run the engine, then shows the chat; without WebGPU
// the chat still opens, its conversations readable and exportable, with the explanation in place of
// the model picker.

import { ChatApp } from './ChatApp.tsx';
import { useGpuCheck } from '../client/gpuCheck.ts';

export function App() {
  const gpu = useGpuCheck();
  if (gpu.state === 'checking') {
    return (
      <main className="screen" aria-busy="true">
        <p className="muted">Checking WebGPU…</p>
      </main>
    );
  }
  return <ChatApp noGpu={gpu.state === 'missing' ? gpu.reason : null} />;
}
