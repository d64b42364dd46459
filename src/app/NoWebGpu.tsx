// In the model picker's place when this browser cannot run the engine: what is missing, what to do
// in the browser the user has, and where WebGPU works today. The conversations stay beside it, to
// read, search and export.

import { adviceForThisBrowser, browserOf } from '../client/browserSupport.ts';

export function NoWebGpu({ reason }: { reason: 'no-webgpu' | 'no-adapter' }) {
  const yours = adviceForThisBrowser(browserOf(navigator.userAgent));
  return (
    <section className="no-webgpu" aria-labelledby="no-gpu-title" data-testid="no-webgpu">
      <h2 id="no-gpu-title">{reason === 'no-webgpu' ? 'This browser does not offer WebGPU' : 'WebGPU found no usable GPU'}</h2>
      <p>
        Endless Chat runs the language model on your GPU, inside the browser, through WebGPU; nothing is sent to a server, so without WebGPU no model can
        run here. Your saved conversations are still here: read, search and export them.
      </p>
      {yours && <p data-testid="your-browser"><strong>{yours}</strong></p>}
      {reason === 'no-adapter' && (
        <>
          <h3>If your browser has WebGPU</h3>
          <ul>
            <li>Check that hardware acceleration is on (Chrome and Edge: Settings → System → "Use graphics acceleration when available"; Firefox: Settings → General → Performance).</li>
            <li>Update your graphics driver, restart the browser, and check again.</li>
            <li>chrome://gpu (edge://gpu in Edge, about:support in Firefox) says whether WebGPU is available and why not.</li>
          </ul>
        </>
      )}
      <h3>Where WebGPU works today</h3>
      <ul>
        <li>Chrome and Edge 113 or newer on Windows, macOS and ChromeOS; Chrome 121 or newer on Android.</li>
        <li>Chrome and Edge on Linux: switch on "Unsafe WebGPU Support" in chrome://flags (edge://flags) and restart the browser.</li>
        <li>Safari 26 on macOS, iPhone and iPad.</li>
        <li>Firefox 141 or newer on Windows; on other systems, Firefox Nightly, or dom.webgpu.enabled in about:config.</li>
      </ul>
      <button type="button" className="primary" onClick={() => location.reload()}>
        Check again
      </button>
    </section>
  );
}
