// The engine soak (lab/soak/soakRun.ts) in Deno, whose WebGPU (wgpu over Vulkan, Metal or D3D12)
// reaches a GPU on a machine with no browser, such as a GPU server. The engine imports its WGSL
// and onnxruntime-web's wasm through Vite, so this runs as the bundle tools/deno/bundle.ts builds,
// from the folder it writes:
//   deno run -A --v8-flags=--expose-gc soak.js [the options of npm run soak] --out results

import './browserGlobals.ts';
import { bundledStream, deno, fromCwd } from './runtime.ts';
import '../../lab/soak/soak.ts';
import { adapterName } from '../../lab/gpuAdapter.ts';
import { parseSoakArgs, soakCommand, type SoakDriver } from '../../lab/soak/soakRun.ts';

const gc = (globalThis as unknown as { gc?: () => void }).gc;
const page = window.soak!;

const driver: SoakDriver = {
  adapter: async () => `${await adapterName()} (Deno ${deno.version.deno}, wgpu)`,
  async heap() {
    if (!gc) throw new Error('run deno with --v8-flags=--expose-gc, so the heap is measured after a collection');
    gc();
    return deno.memoryUsage().heapUsed;
  },
  start: (job) => page.start(job),
  advance: (tokens) => page.advance(tokens),
  finish: () => page.finish(),
};

const line = parseSoakArgs(deno.args, 'deno run -A --v8-flags=--expose-gc soak.js');
deno.exit((await soakCommand(driver, line, bundledStream(), fromCwd(line.out))) ? 0 : 1);
