// The decode benchmark (tools/benchRun.ts) in Deno, on a machine with a GPU and no browser; built
// and run like tools/deno/soak.ts:
//   deno run -A bench.js [the options of npm run bench] --out results

import './browserGlobals.ts';
import { bundledStream, deno, fromCwd, harnessDriver } from './runtime.ts';
import '../../lab/harness/main.ts';
import { parseBenchArgs, runBench } from '../benchRun.ts';

const values = parseBenchArgs(deno.args);
const { model, ids } = bundledStream();
console.log(await runBench(harnessDriver(), values, 'deno run -A bench.js', model, ids, fromCwd(values.out).pathname));
