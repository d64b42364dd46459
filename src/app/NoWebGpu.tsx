// The screen for a browser that cannot run the engine: what is missing and what to do about it.

export function NoWebGpu({ reason }: { reason: 'no-webgpu' | 'no-adapter' }) {
  return (
    <main className="screen" aria-labelledby="no-gpu-title">
      <div className="card screen-card">
        <h1 id="no-gpu-title">{reason === 'no-webgpu' ? 'This browser does not offer WebGPU' : 'WebGPU found no usable GPU'}</h1>
        <p>Endless Chat runs the language model on your GPU, inside the browser, through WebGPU. Nothing is sent to a server, so without WebGPU it cannot run.</p>
        <h2>What to do</h2>
        <ol>
          {reason === 'no-webgpu' ? (
            <>
              <li>Open this page in a recent Chrome or Edge (version 113 or newer) on Windows, macOS or ChromeOS, or Chrome 121 or newer on Android.</li>
              <li>On Linux, WebGPU may need to be switched on: open chrome://flags, enable "Unsafe WebGPU Support", and restart the browser.</li>
              <li>Firefox and Safari support WebGPU only in their newest versions; update them, or use Chrome.</li>
            </>
          ) : (
            <>
              <li>Check that hardware acceleration is on (Chrome: Settings → System → "Use graphics acceleration when available").</li>
              <li>Update your graphics driver, restart the browser, and reload this page.</li>
              <li>chrome://gpu shows whether WebGPU is available and why not.</li>
            </>
          )}
        </ol>
        <button type="button" className="primary" onClick={() => location.reload()}>
          Check again
        </button>
      </div>
    </main>
  );
}
