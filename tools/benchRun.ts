// The decode benchmark, whatever runs it (tools/bench.ts in headless Chromium, tools/deno/bench.ts
// in Deno on a machine with a GPU and no browser): runs the harness page's benchmarks through a
// driver, in one run, and writes bench.{md,json}, or with --shape bench-shapes.{md,json}. Also the
// suite of npm run bench:gpu (runGpuSuite), which tools/benchGpu.ts runs in Chrome and
// tools/deno/benchGpu.ts in Deno. What each measure means is in tools/bench.ts.

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, type as osType, release } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { countsSection, ratioText, shapesSection, stats, type CountsJobText, type ShapeRun } from '../lab/benchReport.ts';
import type { DensePoint } from '../lab/harness/denseBench.ts';
import type { BenchJob, BenchResult, CountsJob, CountsResult, Harness } from '../lab/harness/main.ts';
import type { ShapeBenchJob } from '../lab/harness/shapeBench.ts';
import type { TuningVariant } from '../lab/harness/sessionBench.ts';
import { CATALOG_SHAPES, findShape, NARROW_WIDTHS, PUBLISHED_WIDTHS, type ModelShape } from '../lab/shapeModels.ts';
import { MODEL_CATALOG } from '../src/models/catalog.ts';

/** The harness page's benchmarks, in a browser tab or in this process. */
export interface BenchDriver extends Pick<Harness, 'benchAgainstDense' | 'benchTunings' | 'benchDecode' | 'benchCounts' | 'benchShape'> {
  /** The browser or runtime, in words. */
  runtime: string;
  /** The WebGPU adapter, in words. */
  adapter(): Promise<string>;
}

export function parseBenchArgs(args: string[]) {
  return parseArgs({
    args,
    options: {
      tokens: { type: 'string', default: '1000000' },
      sinks: { type: 'string', default: '4' },
      window: { type: 'string', default: '252' },
      layers: { type: 'string', default: '' },
      'recompute-samples': { type: 'string', default: '20' },
      'profile-tokens': { type: 'string', default: '200' },
      'pick-tokens': { type: 'string', default: '100' },
      'dense-positions': { type: 'string', default: '128,512,2048,8192' },
      'dense-tokens': { type: 'string', default: '20' },
      'tuning-tokens': { type: 'string', default: '100' },
      'count-tokens': { type: 'string', default: '16' },
      counts: { type: 'boolean', default: false },
      shape: { type: 'string', default: '' },
      'shape-tokens': { type: 'string', default: '2' },
      'shape-warm': { type: 'string', default: '1' },
      'shape-layers': { type: 'string', default: '' },
      'shape-mlp': { type: 'string', default: String(NARROW_WIDTHS.mlp) },
      'shape-vocab': { type: 'string', default: String(NARROW_WIDTHS.vocab) },
      'hardware-gpu': { type: 'boolean', default: false },
      out: { type: 'string', default: 'eval/results' },
    },
  }).values;
}

export type BenchArgs = ReturnType<typeof parseBenchArgs>;

const f = (x: number) => x.toFixed(2);
const row = (what: string, xs: number[]) => {
  const s = stats(xs);
  return `| ${what} | ${f(s.min)} | ${f(s.median)} | ${f(s.max)} | ${s.n} |`;
};

export const machineText = () => `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${osType()} ${release()}`;

export const adapterNote = (adapter: string) =>
  /swiftshader|llvmpipe|lavapipe/i.test(adapter)
    ? 'This adapter runs shaders on the CPU, on a machine shared with other jobs: compare only ratios measured in the same run.'
    : 'A hardware GPU: times are this GPU\'s and this runtime\'s.';

/** Prompt of the counts: as long as a short chat turn, two of the chat's prefill chunks. */
const COUNT_PROMPT = 128;
const COUNT_WARM = 4;
/** The chat's prefill chunk (the app's cache shape). */
const CHAT_CHUNK = 64;

/** Work per token of `model` (stories260K, or its layers repeated), measured on the harness page. */
export async function runCounts(driver: BenchDriver, model: CountsJob['model'], ids: number[], cache: CountsJob['cache'], tokens: number): Promise<{ result: CountsResult; text: CountsJobText }> {
  const result = await driver.benchCounts({ model, cache, promptIds: ids.slice(0, COUNT_PROMPT), warm: COUNT_WARM, tokens, dense: true });
  const layers = model.kind === 'llama2c' && model.layers ? `its layers repeated to ${result.layers}` : `${result.layers} layers`;
  return { result, text: { model: `stories260K, ${layers}`, promptTokens: COUNT_PROMPT, chunk: CHAT_CHUNK, warm: COUNT_WARM, tokens } };
}

/** A width option: a number, or 'published' for the shape's own. */
function widthOf(value: string, shape: ModelShape, key: 'mlp' | 'vocab'): number {
  if (value === 'published') return PUBLISHED_WIDTHS[shape.id][key];
  const n = Number(value);
  if (!Number.isInteger(n) || n < 32) throw new Error(`--shape-${key} must be 'published' or a whole number of at least 32, not ${value}`);
  return n;
}

/** The shape benchmark's jobs from the command line. */
export function shapeJobs(values: BenchArgs): ShapeBenchJob[] {
  const ids = values.shape === 'all' ? CATALOG_SHAPES.map((s) => s.id) : values.shape.split(',');
  const tokens = Number(values['shape-tokens']);
  const warm = Number(values['shape-warm']);
  return ids.map((id) => {
    const published = findShape(id);
    const shape = values['shape-layers'] ? { ...published, nLayers: Math.min(published.nLayers, Number(values['shape-layers'])) } : published;
    const entry = MODEL_CATALOG.find((e) => e.id === id)!;
    return {
      shape,
      widths: { mlp: widthOf(values['shape-mlp'], shape, 'mlp'), vocab: widthOf(values['shape-vocab'], shape, 'vocab') },
      seed: 1,
      cache: { sinks: entry.defaultSinks, window: entry.defaultWindow },
      positions: values['dense-positions'].split(',').map(Number),
      warm,
      tokens,
      promptTokens: 64,
    };
  });
}

/** Runs the shape benchmark job by job, logging each shape's wall time as it ends; a shape not
 *  started by `deadline` (Date.now() time) is left out. */
export async function runShapes(driver: BenchDriver, jobs: ShapeBenchJob[], log: (line: string) => void = () => {}, deadline = Infinity): Promise<ShapeRun[]> {
  const runs: ShapeRun[] = [];
  for (const job of jobs) {
    if (Date.now() > deadline) {
      log(`${job.shape.label}: left out, past the deadline`);
      continue;
    }
    const start = performance.now();
    const result = await driver.benchShape(job);
    runs.push({ job, result, wallMs: performance.now() - start });
    log(`${job.shape.label}: ${((performance.now() - start) / 1000).toFixed(0)} s`);
  }
  return runs;
}

export const minutes = (ms: number) => `${(ms / 60_000).toFixed(1)} min`;

/** npm run bench:gpu's suite, in any runtime: the work per token of stories260K at 24 layers
 *  (Qwen2.5-0.5B's depth) and the catalog's shapes against onnxruntime's whole graph. */
export interface GpuSuiteOptions {
  /** A few minutes on SwiftShader: shapes cut to 2 layers, two positions, few tokens. */
  short: boolean;
  /** Date.now() after which no further shape starts. */
  deadline: number;
}

export interface GpuSuiteResult {
  runtime: string;
  adapter: string;
  counts: { result: CountsResult; text: CountsJobText };
  runs: ShapeRun[];
  /** Shapes left out at the deadline. */
  leftOut: string[];
  wallMs: number;
}

export async function runGpuSuite(driver: BenchDriver, stories: { model: CountsJob['model']; ids: number[] }, options: GpuSuiteOptions, log: (line: string) => void): Promise<GpuSuiteResult> {
  const start = performance.now();
  const adapter = await driver.adapter();
  log(`${driver.runtime}: adapter ${adapter}`);
  const model = stories.model.kind === 'llama2c' && !options.short ? { ...stories.model, layers: 24 } : stories.model;
  const counts = await runCounts(driver, model, stories.ids, { sinks: 4, window: 252 }, options.short ? 4 : 16);
  log(`${driver.runtime}: counts done`);
  const args = options.short
    ? ['--shape', 'all', '--shape-layers', '2', '--dense-positions', '128,1024', '--shape-tokens', '1', '--shape-warm', '1']
    : ['--shape', 'all', '--dense-positions', '128,512,2048,8192', '--shape-tokens', '10', '--shape-warm', '2'];
  const jobs = shapeJobs(parseBenchArgs(args));
  const runs = await runShapes(driver, jobs, (line) => log(`${driver.runtime}: ${line}`), options.deadline);
  const leftOut = jobs.filter((j) => !runs.some((r) => r.job.shape.id === j.shape.id)).map((j) => j.shape.label);
  return { runtime: driver.runtime, adapter, counts, runs, leftOut, wallMs: performance.now() - start };
}

/** One runtime's part of bench-gpu.md, its headings one level down. */
export function gpuSuiteSection(r: GpuSuiteResult): string[] {
  const down = (lines: string[]) => lines.map((l) => (l.startsWith('#') ? `#${l}` : l));
  return [
    `## ${r.runtime}`,
    '',
    `Adapter: ${r.adapter}. ${adapterNote(r.adapter)} This part took ${minutes(r.wallMs)}.`,
    ...(r.leftOut.length ? ['', `Left out at the deadline: ${r.leftOut.join(', ')}.`] : []),
    '',
    ...down(countsSection(r.counts.result, r.counts.text)),
    '',
    ...down(shapesSection(r.runs)),
  ];
}

/** npm run bench -- --shape: the catalog shapes alone, into bench-shapes.{md,json}. */
async function runShapeBench(driver: BenchDriver, values: BenchArgs, program: string, out: string): Promise<string> {
  const start = performance.now();
  const adapter = await driver.adapter();
  const jobs = shapeJobs(values);
  const runs = await runShapes(driver, jobs, (line) => console.error(line));
  const wallMs = performance.now() - start;
  const command =
    `${program} --shape ${values.shape} --dense-positions ${values['dense-positions']} --shape-tokens ${values['shape-tokens']} --shape-warm ${values['shape-warm']}` +
    ` --shape-mlp ${values['shape-mlp']} --shape-vocab ${values['shape-vocab']}${values['shape-layers'] ? ` --shape-layers ${values['shape-layers']}` : ''}${values['hardware-gpu'] ? ' --hardware-gpu' : ''}`;
  const md = [
    "# Decode benchmark: the catalog's shapes",
    '',
    `Machine: ${machineText()}. Runtime: ${driver.runtime}. Adapter: ${adapter}. ${new Date().toISOString().slice(0, 16)} UTC.`,
    `Command: \`${command}\`. The run took ${minutes(wallMs)}.`,
    adapterNote(adapter),
    '',
    ...shapesSection(runs),
  ].join('\n');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'bench-shapes.md'), md + '\n');
  writeFileSync(join(out, 'bench-shapes.json'), JSON.stringify({ command, machine: machineText(), runtime: driver.runtime, adapter, wallMs, runs }) + '\n');
  return md;
}

/** The rows of the session-settings table, each against the default setting's paired tokens. */
function tuningTable(variants: TuningVariant[], tunings: Record<string, number[] | string>): string[] {
  const base = tunings.default ?? [];
  return [
    '| setting | min | median | max | tokens | time / default, paired |',
    '|---|---|---|---|---|---|',
    ...variants.map(({ name }) => {
      const t = tunings[name];
      if (typeof t === 'string') return `| ${name} | failed: ${t.replace(/\|/g, '/').slice(0, 300)} | | | | |`;
      return `${row(name, t)} ${typeof base === 'string' ? '' : ratioText(t, base)} |`;
    }),
  ];
}

/** npm run bench -- --counts: the work per token and what graph capture changes, in minutes. */
async function runCountsBench(driver: BenchDriver, values: BenchArgs, program: string, model: BenchJob['model'], ids: number[], out: string): Promise<string> {
  const adapter = await driver.adapter();
  const cache = { sinks: Number(values.sinks), window: Number(values.window) };
  const countTokens = Number(values['count-tokens']);
  const tuningTokens = Number(values['tuning-tokens']);
  const counts = await runCounts(driver, model, ids, cache, countTokens);
  const variants = VARIANTS.filter((v) => v.name === 'default' || v.name === 'graph capture');
  const tunings = await driver.benchTunings({ model, variants, tokens: tuningTokens });
  const command = `${program} --counts --sinks ${cache.sinks} --window ${cache.window}${values.layers ? ` --layers ${values.layers}` : ''} --count-tokens ${countTokens} --tuning-tokens ${tuningTokens}${values['hardware-gpu'] ? ' --hardware-gpu' : ''}`;
  const md = [
    `# Work per token: ${counts.text.model}`,
    '',
    `Machine: ${machineText()}. Runtime: ${driver.runtime}. Adapter: ${adapter}. ${new Date().toISOString().slice(0, 16)} UTC.`,
    `Command: \`${command}\`. ${adapterNote(adapter)}`,
    '',
    ...countsSection(counts.result, counts.text).slice(2),
    '',
    `## Graph capture: onnxruntime's share of a token`,
    '',
    `The segments alone for one token (no attention kernel), ${tuningTokens} tokens per setting, alternating; ms per token.`,
    '',
    ...tuningTable(variants, tunings),
  ].join('\n');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'bench-counts.md'), md + '\n');
  writeFileSync(join(out, 'bench-counts.json'), JSON.stringify({ command, machine: machineText(), runtime: driver.runtime, adapter, counts, tunings }) + '\n');
  return md;
}

const VARIANTS: TuningVariant[] = [
  { name: 'default', tuning: {} },
  { name: 'validationMode disabled', tuning: { validationMode: 'disabled' } },
  { name: 'graph capture', tuning: { graphCapture: true } },
  { name: 'JSPI build', tuning: {}, jspi: true },
];

/** What the measurements above decided; revisit when a run on a real GPU says otherwise. */
const NOTES = `
## What the decode path keeps, and what it dropped

- Kept: nothing created per decoded token, by our code or by onnxruntime (the counts above; tests/gpu/workCounts.test.ts).
  Each chunk shape has its boundary buffers, input-ids buffer, feeds/fetches records and the kernel's bind groups built once;
  the chunk's uniforms are written in place.
- Kept: onnxruntime graph capture for one-token runs (src/engine/ort/segmentSessions.ts, the glue patch in
  lab/onnxruntimeGluePatch.ts): a replay builds no bind group and writes no uniform. Prefill chunks run uncaptured on the same
  sessions (run option gpu_graph_id = -1), so the weights exist once. Logits equal to uncaptured runs (tests/gpu/graphCapture.test.ts).
- Kept: sampling on the GPU. shaders/argmax.wgsl picks the k best logits (k <= 64) outside the ids under repetition penalty and
  gathers those ids' raw logits; Sampler.sampleTop applies the penalty and gives exactly the token the CPU sampler picks from the
  whole row (tests/gpu/sampling.test.ts). With the app's defaults a token reads back at most 776 bytes at any vocabulary; top-p
  without top-k, or k > 64, reads the whole row back (exact on the CPU).
- Dropped: validationMode 'disabled' (the same as 'wgpuOnly' in a browser) and the JSPI build (Chromium 156 has JSPI): no
  measurable change in onnxruntime's share of a token, so the engine keeps the defaults and one build.
- Submits: 2 per layer + 2 per token. The attention of layer i must be queued between two onnxruntime runs, and onnxruntime
  submits its own work; merging submits needs onnxruntime to take foreign commands, which it does not.
- The dense onnxruntime baseline grows with position while ours stays flat; on SwiftShader part of its cost is likely shader
  work that depends on the growing past length (not profiled). Recheck on a real GPU with \`--hardware-gpu\`.`;

/**
 * Runs every benchmark through `driver` on `model` and the looped stream `ids`, writes bench.md and
 * bench.json into `out`, and returns the report. `program` is how the report names the command.
 */
export async function runBench(driver: BenchDriver, values: BenchArgs, program: string, storiesModel: BenchJob['model'], ids: number[], out: string): Promise<string> {
  if (values.shape) return runShapeBench(driver, values, program, out);
  const model = values.layers && storiesModel.kind === 'llama2c' ? { ...storiesModel, layers: Number(values.layers) } : storiesModel;
  if (values.counts) return runCountsBench(driver, values, program, model, ids, out);
  const job: BenchJob = {
    model,
    cache: { sinks: Number(values.sinks), window: Number(values.window) },
    tokens: Number(values.tokens),
    ids,
    recomputeSamples: Number(values['recompute-samples']),
    profileTokens: Number(values['profile-tokens']),
    pickTokens: Number(values['pick-tokens']),
  };
  const positions = values['dense-positions'].split(',').map(Number);
  const denseTokens = Number(values['dense-tokens']);
  const tuningTokens = Number(values['tuning-tokens']);
  const hardwareGpu = values['hardware-gpu'];
  const fill = job.cache.sinks + job.cache.window;
  if (job.tokens < fill + 1000) throw new Error(`--tokens must be at least the cache size plus 1000 (${fill + 1000})`);
  const { runtime } = driver;
  const adapter = await driver.adapter();
  const countTokens = Number(values['count-tokens']);
  const counts = await runCounts(driver, model, ids, job.cache, countTokens);
  const dense: DensePoint[] = await driver.benchAgainstDense({ model, cache: job.cache, positions, tokensPerPosition: denseTokens, prefillChunk: 256, ids });
  const tunings = await driver.benchTunings({ model, variants: VARIANTS, tokens: tuningTokens });
  const result: BenchResult = await driver.benchDecode(job);

  const afterFill = stats(result.msPerToken.slice(fill, fill + 500));
  const end = stats(result.msPerToken.slice(-500));
  const recompute = stats(result.recomputeMsPerToken);
  const steady = stats(result.msPerToken.slice(fill));
  const [first, last] = [result.resources[0], result.resources[result.resources.length - 1]];
  const afterFillResources = result.resources.find(([t]) => t >= fill) ?? first;
  const p = result.phases;
  const machine = machineText();
  const command =
    `${program} --tokens ${job.tokens} --sinks ${job.cache.sinks} --window ${job.cache.window}${values.layers ? ` --layers ${values.layers}` : ''} --recompute-samples ${job.recomputeSamples}` +
    ` --profile-tokens ${job.profileTokens} --pick-tokens ${job.pickTokens} --dense-positions ${positions.join(',')} --dense-tokens ${denseTokens}` +
    ` --tuning-tokens ${tuningTokens} --count-tokens ${countTokens}${hardwareGpu ? ' --hardware-gpu' : ''}`;
  const tuningRows = tuningTable(VARIANTS, tunings);
  const md = [
    `# Decode benchmark: ${counts.text.model}`,
    '',
    `Machine: ${machine}. Runtime: ${runtime}. Adapter: ${adapter}. ${new Date().toISOString().slice(0, 16)} UTC.`,
    `Command: \`${command}\`.`,
    'Times are wall time per token (ms), min / median / max over the repeated tokens of one run.',
    /swiftshader|llvmpipe|lavapipe/i.test(adapter)
      ? adapterNote(adapter)
      : 'On this GPU a token of stories260K is mostly fixed cost (onnxruntime runs, submits, the readback), not arithmetic.',
    '',
    ...countsSection(counts.result, counts.text),
    '',
    `## Streaming decode, cache ${job.cache.sinks}+${job.cache.window}, ${job.tokens} tokens fed one at a time`,
    '',
    '| measure | min | median | max | tokens |',
    '|---|---|---|---|---|',
    `| streaming, first 500 tokens after the cache filled | ${f(afterFill.min)} | ${f(afterFill.median)} | ${f(afterFill.max)} | ${afterFill.n} |`,
    `| streaming, last 500 tokens | ${f(end.min)} | ${f(end.median)} | ${f(end.max)} | ${end.n} |`,
    `| streaming, all tokens after the fill | ${f(steady.min)} | ${f(steady.median)} | ${f(steady.max)} | ${steady.n} |`,
    `| sliding window with recomputation, same cache | ${f(recompute.min)} | ${f(recompute.median)} | ${f(recompute.max)} | ${recompute.n} |`,
    '',
    `- End vs after the fill (median): ${f(end.median / afterFill.median)}x (must stay within 1.10x).`,
    `- Speed-up over recomputation (median): ${f(recompute.median / steady.median)}x.`,
    `- Live GPU buffers: ${afterFillResources[1]} after the fill, ${last[1]} at the end; JS heap ${(afterFillResources[2] / 2 ** 20).toFixed(1)} MiB after the fill, ${(last[2] / 2 ** 20).toFixed(1)} MiB at the end.`,
    `- Where a token's time goes (last ${p.tokens} tokens, GPU awaited after every phase): onnxruntime segments ${f(p.segmentsMs / p.tokens)} ms, attention kernel ${f(p.attentionMs / p.tokens)} ms, logits readback ${f(p.readbackMs / p.tokens)} ms.`,
    '',
    '## Against dense decoding with onnxruntime\'s own attention',
    '',
    'Dense onnxruntime: the whole exported graph (GroupQueryAttention) on the WebGPU EP with a growing past_key_values kept in GPU',
    'buffers between calls and the logits read back, as transformers.js decodes (the export\'s cos/sin cache lengthened for it).',
    `Ours: the split engine, streaming with a ${job.cache.sinks}+${job.cache.window} cache, and dense with a cache that holds the whole stream.`,
    `All three advance through the same stream together; at each position their ${denseTokens} timed tokens alternate. The ratios`,
    'pair the tokens timed back to back.',
    '',
    '| position | dense onnxruntime ms (min / median / max) | ours streaming ms | ours dense ms | dense onnxruntime / ours streaming | dense onnxruntime / ours dense |',
    '|---|---|---|---|---|---|',
    ...dense.map((d) => {
      const [o, s, e] = [stats(d.denseOrt), stats(d.streaming), stats(d.dense)];
      const m = (x: ReturnType<typeof stats>) => `${f(x.min)} / ${f(x.median)} / ${f(x.max)}`;
      return `| ${d.position} | ${m(o)} | ${m(s)} | ${m(e)} | ${ratioText(d.denseOrt, d.streaming)} | ${ratioText(d.denseOrt, d.dense)} |`;
    }),
    '',
    '## Decode-path optimisations',
    '',
    `Sampling on the GPU: greedy tokens of the streaming engine (forward and pick), ${job.pickTokens} per arm, alternating.`,
    '',
    '| arm | min | median | max | tokens |',
    '|---|---|---|---|---|',
    row('logits read back, argmax on the CPU', result.pick.cpuMs),
    row('argmax on the GPU, id read back', result.pick.gpuMs),
    '',
    `- CPU pick / GPU pick, paired: ${ratioText(result.pick.cpuMs, result.pick.gpuMs)}.`,
    '',
    `onnxruntime session settings: the segments alone for one token (no attention kernel), ${tuningTokens} tokens per setting, alternating.`,
    '',
    ...tuningRows,
    NOTES,
  ].join('\n');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'bench.md'), md + '\n');
  writeFileSync(
    join(out, 'bench.json'),
    JSON.stringify({ command, machine, runtime, adapter, job: { ...job, ids: undefined, model: counts.text.model }, counts, result, dense, tunings }) + '\n',
  );
  return md;
}

