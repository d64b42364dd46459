// A Vite plugin that carries one documented change to onnxruntime-web 1.30's JavaScript glue
// (lib/wasm/wasm-core-impl.ts, run()), so that one session can replay a captured graph for decode
// and still run uncaptured prefill chunks of other shapes.
//
// The glue binds a session's inputs and outputs (IO binding) once and, when graph capture is on,
// never again: `if (ioBindingState && !inputOutputBound) { ...bind... }`. That breaks two ways:
// pre-allocated outputs are no longer recognised on the second run (their handles were released
// after the first, and it fails with "Cannot set properties of undefined (setting
// 'Symbol(gpuBufferMetadata)')"), and a prefill run (run option gpu_graph_id = -1) would run on the
// decode tensors bound first. The patch binds on every run, as the glue does without capture. A
// replay ignores the bindings (it re-issues the captured dispatches on the buffers bound when it was
// captured), so decode must always feed the same GPU buffers: the decoder does (src/engine/decoder/).
//
// The change is made on the published minified bundle, whose local names differ from the source:
// it is matched by its shape and must match exactly once, or the build stops.

import type { Plugin } from 'vite';

/** The bundles of onnxruntime-web that hold the native WebGPU glue. */
const GLUE_BUNDLE = /onnxruntime-web\/dist\/ort\.(webgpu|jspi)\.bundle\.min\.mjs$/;

/** `if(binding&&!bound){let{handle:...,outputPreferredLocations:` in the minified run(). */
const BIND_ONCE = /if\((\w+)&&!\w+\)\{let\{handle:(\w+),outputPreferredLocations:/g;

/** Returns the bundle's code with the glue binding its inputs and outputs on every run. */
export function patchOnnxruntimeGlue(code: string, file: string): string {
  const matches = code.match(BIND_ONCE)?.length ?? 0;
  if (matches !== 1) {
    throw new Error(
      `onnxruntime-web glue patch: expected the IO-binding condition once in ${file}, found it ${matches} times. ` +
        'The patch is written for onnxruntime-web 1.30.0 (package.json pins it); check lab/onnxruntimeGluePatch.ts against the new version.',
    );
  }
  return code.replace(BIND_ONCE, 'if($1){let{handle:$2,outputPreferredLocations:');
}

export function onnxruntimeGluePatch(): Plugin {
  return {
    name: 'onnxruntime-glue-patch',
    enforce: 'pre',
    transform(code, id) {
      const file = id.split('?')[0];
      if (!GLUE_BUNDLE.test(file)) return null;
      return { code: patchOnnxruntimeGlue(code, file), map: null };
    },
  };
}
