// npm run bench:gpu's suite in Deno (tools/benchGpu.ts builds the bundle and runs it where a deno
// binary is on PATH): the work per token and the catalog's shapes, as JSON for its report.
//   deno run -A bench-gpu.js [--short] [--deadline <Date.now() ms>] --out <folder>   writes <folder>/suite.json

import './browserGlobals.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { bundledStream, deno, fromCwd, harnessDriver } from './runtime.ts';
import '../../lab/harness/main.ts';
import { runGpuSuite } from '../benchRun.ts';

const { values } = parseArgs({
  args: deno.args,
  options: { short: { type: 'boolean', default: false }, deadline: { type: 'string', default: String(Infinity) }, out: { type: 'string', default: 'results' } },
});
const result = await runGpuSuite(harnessDriver(), bundledStream(), { short: values.short, deadline: Number(values.deadline) }, (line) => console.error(line));
const out = fromCwd(values.out).pathname;
mkdirSync(out, { recursive: true });
writeFileSync(`${out}suite.json`, JSON.stringify(result) + '\n');
