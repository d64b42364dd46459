// The harness job format (npm run harness -- job.json), validated in Node before the browser
// starts, and turned into the job the harness page runs. Each invalid job gets a one-line reason.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { AttentionMode, CacheDtype } from '../src/protocol/messages.ts';
import { REPO_ROOT } from './browser.ts';

export type HarnessMode = AttentionMode | 'recompute';

/** Sinks and window of a job's cache, and the dtype it is kept in: f32 unless the job names f16
 *  (the harness measures the exact cache, whatever the app's default). */
export interface HarnessCache {
  sinks: number;
  window: number;
  dtype?: CacheDtype;
}

export interface GenerateJob {
  promptIds?: number[];
  prompt?: string;
  maxTokens: number;
  temperature: number;
  seed: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
}

export interface HarnessJob {
  model: string;
  /** Which .onnx of the folder to load where it holds several ("onnx/model_q4.onnx"). */
  onnxFile?: string;
  mode: HarnessMode;
  cache: HarnessCache;
  chunk?: number;
  score?: number[];
  scoreFile?: string;
  generate?: GenerateJob;
}

/** What the page receives: the model as URLs it can fetch, and the ids to score inline. */
export interface PageJob {
  /** An ONNX folder as paths inside it ("onnx/model.onnx") to URLs, or a llama2.c checkpoint. */
  model:
    | { kind: 'onnx'; files: Record<string, string>; onnxFile?: string }
    /** `layers`: the checkpoint's layers repeated to that depth (lab/repeatLayers.ts). */
    | { kind: 'llama2c'; checkpoint: string; tokenizer: string; layers?: number };
  mode: HarnessMode;
  cache: HarnessCache;
  chunk?: number;
  /** Scoring: the first `prefill` ids are fed as one piece before the chunks, as a chat prefills
   *  before it decodes. In recompute mode at most sinks + window, where V(t) is every token so far
   *  and one pass scores them all. */
  prefill?: number;
  score?: number[];
  generate?: GenerateJob;
}

export interface ScoreResult {
  nll: number[];
  ppl: number;
  msPerToken: { first1000: number; last1000: number; all: number };
}

export interface GenerateResult {
  ids: number[];
  text: string;
}

const MODES: HarnessMode[] = ['streaming', 'window', 'dense', 'recompute'];

/** Throws an Error whose message is the one-line reason. */
export function validateJob(job: unknown): HarnessJob {
  const fail = (why: string): never => {
    throw new Error(`invalid job: ${why}`);
  };
  if (typeof job !== 'object' || job === null || Array.isArray(job)) fail('the job must be a JSON object');
  const j = job as Record<string, unknown>;
  if (typeof j.model !== 'string' || j.model === '') fail('"model" must be a folder path');
  if (j.onnxFile !== undefined && (typeof j.onnxFile !== 'string' || !j.onnxFile.endsWith('.onnx'))) fail('"onnxFile" must be the path of an .onnx file in the model folder');
  if (!MODES.includes(j.mode as HarnessMode)) fail(`"mode" must be one of ${MODES.join(', ')}`);
  const cache = j.cache as Record<string, unknown> | undefined;
  if (typeof cache !== 'object' || cache === null) fail('"cache" must be {"sinks": S, "window": W} (and optionally "dtype": "f32" or "f16")');
  const isCount = (x: unknown, min: number) => Number.isInteger(x) && (x as number) >= min;
  if (!isCount(cache!.sinks, 0)) fail('"cache.sinks" must be an integer >= 0');
  if (!isCount(cache!.window, 1)) fail('"cache.window" must be an integer >= 1');
  if (cache!.dtype !== undefined && cache!.dtype !== 'f32' && cache!.dtype !== 'f16') fail('"cache.dtype" must be "f32" or "f16"');
  if (j.chunk !== undefined && !isCount(j.chunk, 1)) fail('"chunk" must be an integer >= 1');
  const tasks = ['score', 'scoreFile', 'generate'].filter((k) => j[k] !== undefined);
  if (tasks.length !== 1) fail('give exactly one of "score", "scoreFile" or "generate"');
  if (j.score !== undefined && (!Array.isArray(j.score) || j.score.length < 2 || !j.score.every((x) => isCount(x, 0)))) {
    fail('"score" must be a list of at least two token ids');
  }
  if (j.scoreFile !== undefined && typeof j.scoreFile !== 'string') fail('"scoreFile" must be a path');
  if (j.generate !== undefined) {
    const g = j.generate as Record<string, unknown>;
    if (typeof g !== 'object' || g === null) fail('"generate" must be an object');
    if ((g.promptIds === undefined) === (g.prompt === undefined)) fail('"generate" needs exactly one of "promptIds" or "prompt"');
    if (g.promptIds !== undefined && (!Array.isArray(g.promptIds) || g.promptIds.length === 0 || !g.promptIds.every((x) => isCount(x, 0)))) {
      fail('"generate.promptIds" must be a non-empty list of token ids');
    }
    if (g.prompt !== undefined && typeof g.prompt !== 'string') fail('"generate.prompt" must be a string');
    if (!isCount(g.maxTokens, 1)) fail('"generate.maxTokens" must be an integer >= 1');
    if (typeof g.temperature !== 'number' || g.temperature < 0) fail('"generate.temperature" must be a number >= 0');
    if (!Number.isInteger(g.seed)) fail('"generate.seed" must be an integer');
  }
  return j as unknown as HarnessJob;
}

/** URL under which the Vite dev server serves an absolute path of this machine. */
const fsUrl = (path: string) => `/@fs${resolve(path)}`;

/** The page's view of a model folder: an ONNX export (possibly under onnx/) or a llama2.c checkpoint. */
export function describeModel(folder: string, onnxFile?: string): PageJob['model'] {
  const dir = isAbsolute(folder) ? folder : resolve(REPO_ROOT, folder);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`invalid job: model folder ${dir} does not exist`);
  const files: Record<string, string> = {};
  for (const sub of ['', 'onnx/']) {
    const d = join(dir, sub);
    if (!existsSync(d)) continue;
    for (const name of readdirSync(d)) if (statSync(join(d, name)).isFile()) files[sub + name] = fsUrl(join(d, name));
  }
  if (onnxFile && !files[onnxFile]) throw new Error(`invalid job: ${dir} has no ${onnxFile}`);
  if (Object.keys(files).some((n) => n.endsWith('.onnx'))) return { kind: 'onnx', files, onnxFile };
  const names = Object.keys(files);
  const tokenizer = names.find((n) => /^tok.*\.bin$/.test(n));
  const checkpoint = names.find((n) => n.endsWith('.bin') && n !== tokenizer);
  if (!tokenizer || !checkpoint) throw new Error(`invalid job: ${dir} holds neither an .onnx model nor a llama2.c checkpoint with its tok*.bin tokenizer`);
  return { kind: 'llama2c', checkpoint: files[checkpoint], tokenizer: files[tokenizer] };
}

export function toPageJob(job: HarnessJob, jobDir: string): PageJob {
  let score = job.score;
  if (job.scoreFile) {
    const path = isAbsolute(job.scoreFile) ? job.scoreFile : resolve(jobDir, job.scoreFile);
    if (!existsSync(path)) throw new Error(`invalid job: scoreFile ${path} does not exist`);
    score = validateJob({ ...job, scoreFile: undefined, score: JSON.parse(readFileSync(path, 'utf8')) }).score;
  }
  return { model: describeModel(job.model, job.onnxFile), mode: job.mode, cache: job.cache, chunk: job.chunk, score, generate: job.generate };
}
