// The decode benchmark (tools/benchRun.ts) in Deno, on a machine with a GPU and no browser; built
// and run like tools/deno/soak.ts:
//   deno run -A bench.js [the options of npm run bench] --out results

import './browserGlobals.ts';
import { bundledStream, deno, fromCwd } from './runtime.ts';
import '../../lab/harness/main.ts';
import { adapterName } from '../../lab/gpuAdapter.ts';
import { parseBenchArgs, runBench, type BenchDriver } from '../benchRun.ts';

const harness = window.harness!;
const driver: BenchDriver = {
  runtime: `Deno ${deno.version.deno} (wgpu)`,
  adapter: adapterName,
  benchAgainstDense: (job) => harness.benchAgainstDense(job),
  benchTunings: (job) => harness.benchTunings(job),
  benchDecode: (job) => harness.benchDecode(job),
};
const values = parseBenchArgs(deno.args);
const { model, ids } = bundledStream();
console.log(await runBench(driver, values, 'deno run -A bench.js', model, ids, fromCwd(values.out).pathname));
