// The engine page of the harness: loads a model from the URLs a job names and scores or generates
// with it, exactly as tools/harness.ts describes. Also exposes the onnxruntime oracle to tests.

// First: it wraps the WebGPU prototypes to count the page's work.
import { liveGpuBuffers } from './gpuCounts.ts';
import { ModelRunner } from '../../src/engine/modelRunner.ts';
import { Engine } from '../../src/engine/engine.ts';
import type { CacheChoice, Conversation, ExperimentPlan, ExperimentResult, ModelSource, SamplingParams } from '../../src/protocol/messages.ts';
import { createGpuContext, type GpuContext } from '../../src/engine/gpu/device.ts';
import { modelFilesFromLlama2c, type ModelFiles } from '../../src/engine/files/modelFiles.ts';
import { isOnnxExternalData } from '../../src/models/hub.ts';
import { toModelFiles } from '../../src/engine/files/modelBlobs.ts';
import { FullGraphSession } from '../ort/fullGraphSession.ts';
import { TextTokenizer } from '../../src/engine/text/tokenizer.ts';
import type { GenerateResult, PageJob, ScoreResult } from '../harnessJob.ts';
import { generate } from '../../src/engine/generate/generator.ts';
import { DEFAULT_SAMPLING, Sampler } from '../../src/engine/generate/sampler.ts';
import { splitGraph } from '../../src/engine/split/splitGraph.ts';
import { benchSessionTunings, type TuningVariant } from './sessionBench.ts';
import { readLlama2cCheckpoint } from '../../src/engine/llama2c/llama2c.ts';
import { exportLlama2cForm } from '../onnxExportForms.ts';
import { benchDense, denseRows, type DenseBenchJob, type DensePoint } from './denseBench.ts';
import { checkTopLogits, type TopCheckSpec } from './sampling.ts';
import { scoreIds } from '../../src/engine/eval/score.ts';
import { repeatLayers } from '../repeatLayers.ts';
import { benchShape, compareShape, GREEDY, withFloatActivations, type ShapeBenchJob } from './shapeBench.ts';
import { denseCounts, replyCounts, type PathCounts } from './tokenSteps.ts';
import { countAttribution } from './countCheck.ts';

let gpu: Promise<GpuContext> | null = null;

async function bytes(url: string): Promise<Uint8Array<ArrayBuffer>> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`could not fetch ${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** A llama2.c model's checkpoint, its layers repeated where the job asks. */
async function checkpointBytes(model: Extract<PageJob['model'], { kind: 'llama2c' }>): Promise<Uint8Array> {
  const checkpoint = await bytes(model.checkpoint);
  return model.layers ? repeatLayers(checkpoint, model.layers) : checkpoint;
}

/** The model through the app's own path from named files to ModelFiles, fetching only what it reads. */
async function loadFiles(model: PageJob['model']): Promise<ModelFiles> {
  if (model.kind === 'llama2c') return modelFilesFromLlama2c(await checkpointBytes(model), await bytes(model.tokenizer));
  const isGraph = (path: string) => path.endsWith('.onnx') || /\.onnx(_data|\.data)(_\d+)?$/.test(path);
  const wanted = Object.keys(model.files).filter((path) => !isGraph(path) || !model.onnxFile || path === model.onnxFile || isOnnxExternalData(model.onnxFile, path));
  const blobs = await Promise.all(wanted.map(async (path) => [path, new Blob([await bytes(model.files[path])])] as const));
  return toModelFiles({ id: 'harness', files: Object.fromEntries(blobs) }, { onnxFile: model.onnxFile });
}

const largestPowerOfTwo = (n: number) => 2 ** Math.floor(Math.log2(n));
const median = (xs: number[]) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Cache settings of a job: sinks only in streaming mode; dense holds the whole stream. The cache
 *  is f32 unless the job names f16: the exactness tests measure through here. */
function cacheSettings(job: PageJob, streamLength: number): CacheChoice {
  const { sinks, window } = job.cache;
  const dtype = job.cache.dtype ?? 'f32';
  const chunk = largestPowerOfTwo(Math.max(job.chunk ?? 64, job.prefill ?? 0));
  switch (job.mode) {
    case 'streaming':
      return { mode: 'streaming', nSinks: sinks, windowSize: window, maxChunk: chunk, dtype };
    case 'window':
      return { mode: 'window', nSinks: 0, windowSize: window, maxChunk: chunk, dtype };
    case 'dense':
      return { mode: 'dense', nSinks: 0, windowSize: streamLength, maxChunk: Math.min(chunk, largestPowerOfTwo(streamLength)), dtype };
    case 'recompute': {
      // A fresh dense pass per token over the S + W tokens it may see.
      const capacity = sinks + window;
      return { mode: 'dense', nSinks: 0, windowSize: capacity, maxChunk: Math.min(chunk, largestPowerOfTwo(capacity)), dtype };
    }
  }
}

/** The job's ids through the engine's one scorer (src/engine/eval/score.ts), as the app's Experiment view scores them. */
async function score(engine: ModelRunner, job: PageJob, ids: number[]): Promise<ScoreResult> {
  const { nll, msPerToken } = await scoreIds(engine, ids, {
    chunk: job.chunk ?? 64,
    prefill: job.prefill,
    recompute: job.mode === 'recompute' ? job.cache : undefined,
  });
  const mean = nll.reduce((a, b) => a + b, 0) / nll.length;
  return {
    nll,
    ppl: Math.exp(mean),
    msPerToken: { first1000: median(msPerToken.slice(0, 1000)), last1000: median(msPerToken.slice(-1000)), all: median(msPerToken) },
  };
}

async function run(job: PageJob): Promise<ScoreResult | GenerateResult> {
  const files = await loadFiles(job.model);
  const context = await (gpu ??= createGpuContext());
  if (job.score) {
    const engine = await ModelRunner.load(files, cacheSettings(job, job.score.length), context);
    try {
      return await score(engine, job, job.score);
    } finally {
      await engine.unload();
    }
  }
  const g = job.generate!;
  const promptIds = g.promptIds ?? TextTokenizer.load(files).encode(g.prompt!, { addSpecialTokens: true });
  const engine = await ModelRunner.load(files, cacheSettings(job, promptIds.length + g.maxTokens), context);
  try {
    const reply = generate(engine, engine.tokenizer, promptIds, {
      maxTokens: g.maxTokens,
      sampling: { temperature: g.temperature, seed: g.seed, topK: g.topK ?? 0, topP: g.topP ?? 1, repetitionPenalty: g.repetitionPenalty ?? 1 },
      eosIds: engine.stopIds,
    });
    let step = await reply.next();
    while (!step.done) step = await reply.next();
    return { ids: step.value.ids, text: step.value.text };
  } finally {
    await engine.unload();
  }
}

/** Per-token NLL of `ids` under each attention setting, the model's files read once. */
async function scoreCases(model: PageJob['model'], ids: number[], cases: Pick<PageJob, 'mode' | 'cache' | 'chunk' | 'prefill'>[]): Promise<number[][]> {
  const files = await loadFiles(model);
  const context = await (gpu ??= createGpuContext());
  const out: number[][] = [];
  for (const c of cases) {
    const job: PageJob = { model, ...c, score: ids };
    const engine = await ModelRunner.load(files, cacheSettings(job, ids.length), context);
    try {
      out.push((await score(engine, job, ids)).nll);
    } finally {
      await engine.unload();
    }
  }
  return out;
}

/** Logits [n, vocab] per fed chunk from onnxruntime running the whole graph with growing past_key_values. */
async function oracleLogits(model: PageJob['model'], chunks: number[][]): Promise<number[][]> {
  const files = await loadFiles(model);
  const site = splitGraph(files.model, files.externalData).sites[0];
  const session = await FullGraphSession.create(files.model, files.externalData, undefined, [site.nKvHeads, site.headSize]);
  const past = new Map();
  const out: number[][] = [];
  try {
    for (const ids of chunks) out.push(Array.from(await session.feed(ids, past)));
  } finally {
    await session.release();
  }
  return out;
}

/** Engine logits [n, vocab] per fed chunk, for comparison with the oracle. */
async function engineLogits(job: PageJob, chunks: number[][]): Promise<number[][]> {
  const files = await loadFiles(job.model);
  const total = chunks.reduce((a, c) => a + c.length, 0);
  const engine = await ModelRunner.load(files, cacheSettings(job, total), await (gpu ??= createGpuContext()));
  const out: number[][] = [];
  try {
    for (const ids of chunks) out.push(Array.from(await engine.feed(ids, { all: true })));
  } finally {
    await engine.unload();
  }
  return out;
}

/** Engine logits of every fed id, all chunks concatenated, as base64 float32 bytes: vocabularies of
 *  150K make number arrays too large to cross from the page. */
async function engineLogitsPacked(job: PageJob, chunks: number[][]): Promise<string> {
  const rows = await engineLogits(job, chunks);
  const bytes = new Uint8Array(Float32Array.from(rows.flat()).buffer);
  const url = await new Promise<string>((resolve) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result as string);
    reader.readAsDataURL(new Blob([bytes]));
  });
  return url.slice(url.indexOf(',') + 1);
}

export interface CaptureCheckJob {
  model: PageJob['model'];
  cache: PageJob['cache'] & { rollbackSlots: number };
  /** Ids the stream is fed, one token at a time after the prompt. */
  ids: number[];
  prompt: number;
  /** Tokens after the prompt at which to roll back five tokens, to snapshot and restore after ten,
   *  and to feed a prefill chunk of seven. */
  at: { rollBack: number; restore: number; chunk: number };
}

export interface CaptureCheck {
  /** Segments that replay captured graphs, of all segments, in the captured runner. */
  captured: { captured: number; total: number };
  /** Logits rows compared, and the largest difference between the two runners over them. */
  rows: number;
  maxDiff: number;
  /** What each runner did, step by step, so that a failure names the step. */
  steps: string[];
}

/**
 * The same feeds through two runners of one model, onnxruntime's graph capture on and off: the
 * prompt in prefill chunks, then one token at a time through the ring's wraps, with a roll-back
 * and a snapshot restore on the way and a prefill chunk between decoded tokens. Returns the
 * largest difference between their logits.
 */
async function captureCheck(job: CaptureCheckJob): Promise<CaptureCheck> {
  const files = await loadFiles(job.model);
  const context = await (gpu ??= createGpuContext());
  const settings: CacheChoice = { mode: 'streaming', nSinks: job.cache.sinks, windowSize: job.cache.window, maxChunk: 16, rollbackSlots: job.cache.rollbackSlots, dtype: 'f32' };
  const captured = await ModelRunner.load(files, settings, context, { graphCapture: true });
  const plain = await ModelRunner.load(files, settings, context, { graphCapture: false });
  const steps: string[] = [];
  let rows = 0;
  let maxDiff = 0;
  const both = async (what: string, ids: number[]) => {
    const [a, b] = [await captured.feed(ids, { all: true }), await plain.feed(ids, { all: true })];
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
    rows += ids.length;
    maxDiff = Math.max(maxDiff, diff);
    steps.push(`${what} at ${captured.cache.length - ids.length}: ${ids.length} rows, max diff ${diff}`);
  };
  try {
    const ids = job.ids;
    await both('prompt', ids.slice(0, job.prompt));
    for (let t = job.prompt; t < ids.length; t++) {
      if (t === job.prompt + job.at.rollBack) {
        // Roll back five tokens and feed others in their place, as a regenerate does.
        for (const r of [captured, plain]) r.cache.truncateTo(r.cache.length - 5);
        for (const id of ids.slice(t - 5, t).reverse()) await both('after roll-back', [id]);
      }
      if (t === job.prompt + job.at.restore) {
        // A snapshot, ten tokens that are then thrown away, and the snapshot restored.
        const saved = [await captured.cache.snapshot(), await plain.cache.snapshot()];
        for (const id of ids.slice(t, t + 10)) await both('before restore', [id]);
        captured.cache.restore(saved[0]);
        plain.cache.restore(saved[1]);
      }
      if (t === job.prompt + job.at.chunk) {
        await both('prefill chunk', ids.slice(t, t + 7));
        t += 6;
        continue;
      }
      await both('decode', [ids[t]]);
    }
    return { captured: captured.capturedSegments, rows, maxDiff, steps };
  } finally {
    await captured.unload();
    await plain.unload();
  }
}

export interface FirstRepliesJob {
  model: PageJob['model'];
  cache: CacheChoice;
  sampling: SamplingParams;
  /** The user message of both replies, each the first of a new conversation. */
  message: string;
  maxTokens: number;
  /** Whether the load warms the decoder up (the app's default) or leaves it to the first reply. */
  warmUp: boolean;
}

export interface FirstReplies {
  loadMs: number;
  /** Time to first token of the first and the second reply after the load. */
  timeToFirstTokenMs: [number, number];
  prefillTokens: [number, number];
}

/** Loads a model through the engine as the app does and times its first two replies. */
async function firstReplies(job: FirstRepliesJob): Promise<FirstReplies> {
  const context = await (gpu ??= createGpuContext());
  const engine = new Engine(context, { graphCapture: true, warmUp: job.warmUp });
  const source: ModelSource =
    job.model.kind === 'llama2c'
      ? { kind: 'llama2c', checkpointUrl: job.model.checkpoint, tokenizerUrl: job.model.tokenizer }
      : { kind: 'blobs', id: 'harness', files: Object.fromEntries(await Promise.all(Object.entries(job.model.files).map(async ([path, url]) => [path, new Blob([await bytes(url)])] as const))), onnxFile: job.model.onnxFile };
  const start = performance.now();
  await engine.load({ key: 'harness', label: 'harness', source }, job.cache);
  const loadMs = performance.now() - start;
  try {
    const reply = (n: number) =>
      engine.chat({ conversation: { id: `c${n}`, systemPrompt: '', messages: [{ id: `m${n}`, role: 'user', content: job.message }] }, replyId: `r${n}`, sampling: job.sampling, maxTokens: job.maxTokens });
    const [first, second] = [await reply(1), await reply(2)];
    return {
      loadMs,
      timeToFirstTokenMs: [first.stats.timeToFirstTokenMs, second.stats.timeToFirstTokenMs],
      prefillTokens: [first.stats.prefillTokens, second.stats.prefillTokens],
    };
  } finally {
    await engine.unload();
  }
}

export interface BenchJob {
  model: PageJob['model'];
  cache: { sinks: number; window: number };
  /** Tokens fed one at a time (teacher-forced from `ids`, cycling). */
  tokens: number;
  ids: number[];
  /** Tokens at which to time sliding-window recomputation at the same cache size. */
  recomputeSamples: number;
  /** Tokens at the end of the run to time phase by phase. */
  profileTokens: number;
  /** Tokens per arm of the sampling comparison: logits read back and argmax on the CPU, or argmax on the GPU. */
  pickTokens: number;
}

export interface BenchResult {
  msPerToken: number[];
  /** [stream position, live GPU buffers, JS heap bytes] every 100 tokens. */
  resources: [number, number, number][];
  recomputeMsPerToken: number[];
  phases: { segmentsMs: number; attentionMs: number; readbackMs: number; tokens: number };
  /** ms per greedy token (forward and pick), the two arms alternating. */
  pick: { cpuMs: number[]; gpuMs: number[] };
}

/** Streaming decode one token at a time, with resources sampled along the way. */
async function benchDecode(job: BenchJob): Promise<BenchResult> {
  const files = await loadFiles(job.model);
  const context = await (gpu ??= createGpuContext());
  const heap = () => (performance as Performance & { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? 0;
  const streaming = await ModelRunner.load(files, cacheSettings({ model: job.model, mode: 'streaming', cache: job.cache, chunk: 1 }, job.tokens), context);
  const msPerToken: number[] = [];
  const resources: [number, number, number][] = [];
  const phases = { segmentsMs: 0, attentionMs: 0, readbackMs: 0, tokens: 0 };
  const pick = { cpuMs: [] as number[], gpuMs: [] as number[] };
  try {
    for (let t = 0; t < job.tokens; t++) {
      const profiling = t >= job.tokens - job.profileTokens;
      if (profiling) streaming.profile(phases);
      const start = performance.now();
      await streaming.feed([job.ids[t % job.ids.length]]);
      msPerToken.push(performance.now() - start);
      if (profiling) phases.tokens++;
      if (t % 100 === 0) resources.push([t, liveGpuBuffers(), heap()]);
    }
    streaming.profile(null);
    const greedy = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0 };
    const [cpuSampler, gpuSampler] = [new Sampler(greedy), new Sampler(greedy)];
    const k = gpuSampler.topNeeded(streaming.vocabSize)!;
    let id = job.ids[job.tokens % job.ids.length];
    for (let t = 0; t < job.pickTokens; t++) {
      let start = performance.now();
      id = cpuSampler.sample(await streaming.feed([id]), []);
      pick.cpuMs.push(performance.now() - start);
      start = performance.now();
      const top = await streaming.feedTop([id], k, []);
      id = top instanceof Float32Array ? gpuSampler.sample(top, []) : gpuSampler.sampleTop(top);
      pick.gpuMs.push(performance.now() - start);
    }
  } finally {
    await streaming.unload();
  }
  const { sinks, window } = job.cache;
  const recompute = await ModelRunner.load(files, cacheSettings({ model: job.model, mode: 'recompute', cache: job.cache, chunk: 64 }, sinks + window), context);
  const recomputeMsPerToken: number[] = [];
  try {
    for (let k = 0; k < job.recomputeSamples; k++) {
      const t = sinks + window + 100 + k;
      const visible = [...job.ids.slice(0, sinks), ...job.ids.slice(t - window + 1, t + 1)];
      const start = performance.now();
      recompute.cache.reset();
      await recompute.feed(visible);
      recomputeMsPerToken.push(performance.now() - start);
    }
  } finally {
    await recompute.unload();
  }
  return { msPerToken, resources, recomputeMsPerToken, phases, pick };
}

export interface ExperimentBesideChatJob {
  model: PageJob['model'];
  cache: CacheChoice;
  /** The plan, its text given here as the URL of a text file (the page reads it). */
  plan: Omit<ExperimentPlan, 'text'> & { textUrl: string };
}

export interface ExperimentBesideChat {
  result: ExperimentResult;
  /** Progress reports per arm, and the ids they reported in all. */
  reports: { arm: number; ids: number }[];
  /** The chat's cache snapshot after the experiment equals the one before it, byte for byte. */
  snapshotUnchanged: boolean;
  /** The next turn of the conversation after the experiment: how the cache followed, and its greedy reply. */
  next: { how: string; text: string };
  /** The same turn on an engine that ran no experiment. */
  reference: { how: string; text: string };
}

/**
 * The experiment as the worker's Engine runs it, between two turns of a conversation: a greedy
 * reply, the experiment, then the next turn, against the same two
 * turns on an engine that never ran it.
 */
async function experimentBesideChat(job: ExperimentBesideChatJob): Promise<ExperimentBesideChat> {
  const context = await (gpu ??= createGpuContext());
  const source: ModelSource =
    job.model.kind === 'llama2c'
      ? { kind: 'llama2c', checkpointUrl: job.model.checkpoint, tokenizerUrl: job.model.tokenizer }
      : { kind: 'blobs', id: 'harness', files: Object.fromEntries(await Promise.all(Object.entries(job.model.files).map(async ([path, url]) => [path, new Blob([await bytes(url)])] as const))), onnxFile: job.model.onnxFile };
  const greedy: SamplingParams = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0 };
  const first: Conversation = { id: 'c', systemPrompt: '', messages: [{ id: 'u1', role: 'user', content: 'Once upon a time, there was a little dog named Max.' }] };
  const twoTurns = async (engine: Engine, between: () => Promise<void>) => {
    const reply = await engine.chat({ conversation: first, replyId: 'r1', sampling: greedy, maxTokens: 12 });
    await between();
    const second: Conversation = { ...first, messages: [...first.messages, { id: 'r1', role: 'assistant', content: reply.text }, { id: 'u2', role: 'user', content: 'Max ran to the park.' }] };
    let how = '';
    const next = await engine.chat({ conversation: second, replyId: 'r2', sampling: greedy, maxTokens: 12 }, { onSynced: (h) => (how = h) });
    return { how, text: next.text };
  };
  const text = await (await fetch(job.plan.textUrl)).text();
  const plan: ExperimentPlan = { ...job.plan, text: { kind: 'text', title: 'harness', text } };
  const engine = new Engine(context);
  const reports: { arm: number; ids: number }[] = [];
  let result: ExperimentResult | undefined;
  let snapshotUnchanged = false;
  try {
    await engine.load({ key: 'harness', label: 'harness', source }, job.cache);
    const next = await twoTurns(engine, async () => {
      const before = await engine.snapshot();
      result = await engine.experiment(plan, (progress) => {
        if (progress.kind !== 'arm') return;
        reports.push({ arm: progress.arm, ids: progress.nll.length });
      });
      const after = await engine.snapshot();
      snapshotUnchanged = before !== null && after !== null && before.bytes.length === after.bytes.length && before.bytes.every((b, i) => b === after.bytes[i]);
    });
    await engine.unload();
    const untouched = new Engine(context);
    await untouched.load({ key: 'harness', label: 'harness', source }, job.cache);
    const reference = await twoTurns(untouched, async () => {});
    await untouched.unload();
    return { result: result!, reports: collect(reports), snapshotUnchanged, next, reference };
  } finally {
    await engine.unload();
  }
}

/** Progress reports summed per arm, in arm order. */
function collect(reports: { arm: number; ids: number }[]): { arm: number; ids: number }[] {
  const out: { arm: number; ids: number }[] = [];
  for (const r of reports) {
    const last = out[out.length - 1];
    if (last?.arm === r.arm) last.ids += r.ids;
    else out.push({ ...r });
  }
  return out;
}

/** The GPU's pick of the best logits against the CPU sampler, on random rows. */
async function topLogitsCheck(spec: TopCheckSpec) {
  return checkTopLogits((await (gpu ??= createGpuContext())).device, spec);
}

/**
 * The same seeded generation twice from one engine: sampling from the k best logits picked on the
 * GPU (what a reply does) and from the whole row read back. Returns both id lists, how
 * many tokens used the GPU pick, and the bytes the GPU path mapped for reading per generated token
 * after the first (counted by wrapping GPUBuffer.prototype.mapAsync).
 */
async function sampleBothWays(job: { model: PageJob['model']; promptIds: number[]; maxTokens: number; sampling: SamplingParams }) {
  const files = await loadFiles(job.model);
  const cache: PageJob['cache'] = { sinks: 4, window: 60 };
  const engine = await ModelRunner.load(files, cacheSettings({ model: job.model, mode: 'streaming', cache, chunk: 64 }, 0), await (gpu ??= createGpuContext()));
  const drain = async (model: Parameters<typeof generate>[0]) => {
    engine.cache.reset();
    const run = generate(model, { decode: () => '' }, job.promptIds, { maxTokens: job.maxTokens, sampling: job.sampling, eosIds: [] });
    let step = await run.next();
    while (!step.done) step = await run.next();
    return step.value.ids;
  };
  const mapAsync = GPUBuffer.prototype.mapAsync;
  let mappedBytes = 0;
  try {
    let picked = 0;
    const gpuIds = await drain({
      feed: (ids) => engine.feed(ids),
      feedTop: async (ids, k, penalized) => {
        GPUBuffer.prototype.mapAsync = function (this: GPUBuffer, mode, offset, size) {
          mappedBytes += size ?? this.size - (offset ?? 0);
          return mapAsync.call(this, mode, offset, size);
        };
        try {
          const top = await engine.feedTop(ids, k, penalized);
          if (!(top instanceof Float32Array)) picked++;
          return top;
        } finally {
          GPUBuffer.prototype.mapAsync = mapAsync;
        }
      },
    });
    const cpuIds = await drain({ feed: (ids) => engine.feed(ids) });
    return { gpuIds, cpuIds, picked, bytesPerToken: mappedBytes / Math.max(1, gpuIds.length - 1) };
  } finally {
    GPUBuffer.prototype.mapAsync = mapAsync;
    await engine.unload();
  }
}

/** Dense onnxruntime (growing past_key_values, WebGPU) against the engine at given positions. */
async function benchAgainstDense(job: DenseBenchJob & { model: PageJob['model']; cache: PageJob['cache'] }): Promise<DensePoint[]> {
  if (job.model.kind !== 'llama2c') throw new Error('the dense benchmark exports a llama2.c checkpoint with a long rotary cache');
  const files = await loadFiles(job.model);
  const context = await (gpu ??= createGpuContext());
  const rows = denseRows(job);
  const ortModel = exportLlama2cForm(readLlama2cCheckpoint(await checkpointBytes(job.model)), { rotaryRows: rows }).model;
  const streaming = await ModelRunner.load(files, cacheSettings({ model: job.model, mode: 'streaming', cache: job.cache, chunk: 64 }, 0), context);
  let dense: ModelRunner | undefined;
  try {
    dense = await ModelRunner.load(files, cacheSettings({ model: job.model, mode: 'dense', cache: job.cache, chunk: 64 }, rows), context);
    return await benchDense(job, ortModel, context.device, streaming, dense);
  } finally {
    await dense?.unload();
    await streaming.unload();
  }
}

/** onnxruntime's share of a decode token under each session setting, in one run. */
async function benchTunings(job: { model: PageJob['model']; variants: TuningVariant[]; tokens: number }) {
  const files = await loadFiles(job.model);
  return benchSessionTunings((await (gpu ??= createGpuContext())).device, splitGraph(files.model, files.externalData), job.variants, job.tokens);
}

export interface CountsJob {
  model: PageJob['model'];
  cache: PageJob['cache'];
  promptIds: number[];
  /** Decode tokens run before the counted ones (the first ones create what later ones reuse). */
  warm: number;
  tokens: number;
  /** Also count onnxruntime's whole graph decoding densely (the slow part on SwiftShader). */
  dense: boolean;
  /** Replay onnxruntime's captured graphs for one-token runs, as the app does; default true. */
  graphCapture?: boolean;
}

export interface CountsResult {
  layers: number;
  /** Our reply path (the chat's), greedy and with the app's default sampling. */
  greedy: PathCounts;
  sampled: PathCounts;
  /** onnxruntime's whole graph, dense, where the job asked for it. */
  dense?: PathCounts;
}

/** The WebGPU work per token on the job's model (lab/harness/tokenSteps.ts). */
async function benchCounts(job: CountsJob): Promise<CountsResult> {
  const files = await loadFiles(job.model);
  const context = await (gpu ??= createGpuContext());
  const runner = await ModelRunner.load(files, cacheSettings({ model: job.model, mode: 'streaming', cache: job.cache, chunk: 64 }, 0), context, { graphCapture: job.graphCapture ?? true });
  try {
    const greedy = await replyCounts(runner, job.promptIds, GREEDY, job.warm, job.tokens);
    const sampled = await replyCounts(runner, job.promptIds, DEFAULT_SAMPLING, job.warm, job.tokens);
    const sites = splitGraph(files.model, files.externalData).sites;
    if (!job.dense) return { layers: sites.length, greedy, sampled };
    const ort = await FullGraphSession.create(withFloatActivations(files.model), files.externalData, context.device, [sites[0].nKvHeads, sites[0].headSize]);
    try {
      return { layers: sites.length, greedy, sampled, dense: await denseCounts(ort, job.promptIds, job.warm, job.tokens) };
    } finally {
      await ort.release();
    }
  } finally {
    await runner.unload();
  }
}

const harness = {
  experimentBesideChat,
  countAttribution: async () => countAttribution((await (gpu ??= createGpuContext())).device),
  benchCounts,
  benchShape: async (job: ShapeBenchJob) => benchShape(job, await (gpu ??= createGpuContext())),
  compareShape: async (job: Parameters<typeof compareShape>[0], chunks: number[][]) => compareShape(job, chunks, await (gpu ??= createGpuContext())),
  benchTunings,
  captureCheck,
  firstReplies,
  run,
  scoreCases,
  oracleLogits,
  engineLogitsPacked,
  engineLogits,
  benchDecode,
  topLogitsCheck,
  sampleBothWays,
  benchAgainstDense,
};
export type Harness = typeof harness;
declare global {
  interface Window {
    harness?: Harness;
  }
}
window.harness = harness;
