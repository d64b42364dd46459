// What the Deno entries share: the part of Deno's API they use, onnxruntime's wasm handed over as
// bytes, the model and token stream that tools/deno/bundle.ts puts beside the bundle, and the
// benchmark driver over the harness page's object.

import * as ort from 'onnxruntime-web/webgpu';
import wasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import { adapterName } from '../../lab/gpuAdapter.ts';
import type { BenchDriver } from '../benchRun.ts';

/** The part of Deno's API used here (the repository's types are the browser's and Node's). */
interface DenoApi {
  args: string[];
  version: { deno: string };
  cwd(): string;
  memoryUsage(): { heapUsed: number };
  readFileSync(path: URL): Uint8Array;
  readTextFileSync(path: URL): string;
  exit(code: number): never;
}

export const deno = (globalThis as unknown as { Deno: DenoApi }).Deno;

const here = import.meta.url;

// onnxruntime's wasm loader fetches only http(s) URLs in a browser-like runtime, so it gets the bytes.
ort.env.wasm.wasmBinary = deno.readFileSync(new URL(wasmUrl, here));

/** stories260K as a llama2.c checkpoint and tokenizer, and the looped token stream, from the bundle's folder. */
export const bundledStream = () => ({
  model: { kind: 'llama2c' as const, checkpoint: new URL('stories260K.bin', here).href, tokenizer: new URL('tok512.bin', here).href },
  ids: JSON.parse(deno.readTextFileSync(new URL('ids.json', here))) as number[],
});

/** A path given on the command line, from the folder Deno was started in. */
export const fromCwd = (path: string) => new URL(path.replace(/\/?$/, '/'), `file://${deno.cwd()}/`);

/** The benchmark driver over the harness page's object, once lab/harness/main.ts has loaded. */
export function harnessDriver(): BenchDriver {
  const harness = window.harness!;
  return {
    runtime: `Deno ${deno.version.deno} (wgpu)`,
    adapter: adapterName,
    benchAgainstDense: (job) => harness.benchAgainstDense(job),
    benchTunings: (job) => harness.benchTunings(job),
    benchDecode: (job) => harness.benchDecode(job),
    benchCounts: (job) => harness.benchCounts(job),
    benchShape: (job) => harness.benchShape(job),
  };
}
