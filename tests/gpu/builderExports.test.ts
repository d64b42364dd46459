// The ONNX files the hub really ships (onnxruntime-genai builder exports; tests/fixtures/builder-exports),
// loaded through the app's own path from a model folder, in headless Chromium:
//   - while the stream fits the cache, engine logits equal onnxruntime (wasm) running the whole
//     graph with its own attention and a growing past_key_values;
//   - past the cache, per-token NLL equals onnxruntime running StreamingLLM itself (the past
//     holding V(t) only, keys re-rotated to their ranks with the graph's own tables), for
//     streaming attention in chunks of 1 and 13, window attention in chunks of 13, and
//     sliding-window recomputation.
// fp16 files run widened to fp32 where the GPU lacks shader-f16 (SwiftShader), and the oracle runs
// the same widened graph, as shipped and with its fp16-rounded rotary tables made exact. The cache is
// f32 throughout: these are exactness tests (cacheDtype.test.ts bounds the app's f16 cache).

import { describe, expect, it } from 'vitest';
import { useLabPage } from './labPage.ts';
import { describeModel } from '../../lab/harnessJob.ts';
import type { PageJob } from '../../lab/harnessJob.ts';
import type { Harness } from '../../lab/harness/main.ts';
import { mulberry32 } from '../../lab/random.ts';
import { loadModelFolder } from '../../lab/reference/modelFolder.ts';
import { oracleLogits, oracleStreamNll } from '../../lab/reference/onnxOracle.ts';

const ROOT = 'tests/fixtures/builder-exports';

interface Export {
  folder: string;
  onnxFile?: string;
  what: string;
  /** fp16 I/O: run widened to f32 (no shader-f16 here), with rotary tables rounded to fp16. */
  f16: boolean;
  /** The file onnxruntime's CPU runs instead, where it cannot run this one (same weights). */
  oracleFile?: string;
  /** Past the cache: every mode (one file), streaming in chunks of 13 (the others), or none (the
   *  same weights as another file, a form that only changes the segments the fitting case checks). */
  pastCases: 'all' | 'streaming' | 'none';
  /** Chunks while the stream fits, where a 152K vocabulary makes every logits row costly. */
  fitting?: number[];
  /** The graph's mask subgraph takes a prefill with no past, then one token at a time (as onnxruntime-genai feeds it). */
  prefillThenDecode?: boolean;
}

/** Chunk sizes while the stream fits a 4 + 60 cache: single tokens, odd sizes, the largest piece.
 *  The older genai graphs cannot start from one token with an empty past, so the first is 5. */
const FITTING_CHUNKS = [5, 1, 16, 1, 1, 13, 3];
const QWEN3_CHUNKS = [5, 1, 13, 1];

const EXPORTS: Export[] = [
  { folder: 'tiny-qwen2', onnxFile: 'onnx/model_q4.onnx', what: 'Qwen2: packed QKV with bias, MatMulNBits, GatherBlockQuantized tied embedding', f16: false, pastCases: 'all' },
  { folder: 'tiny-qwen2', onnxFile: 'onnx/model_q4f16.onnx', what: 'Qwen2 q4f16, widened to f32', f16: true, pastCases: 'streaming' },
  { folder: 'tiny-qwen2', onnxFile: 'onnx/model_fp16.onnx', what: 'Qwen2 fp16: MatMul weights, Transpose+Gather tied embedding, widened', f16: true, pastCases: 'streaming' },
  { folder: 'tiny-llama', onnxFile: 'onnx/model_q4f16.onnx', what: 'Llama (SmolLM2 form) q4f16: untied fp16 embedding, widened', f16: true, pastCases: 'streaming' },
  { folder: 'tiny-qwen3', onnxFile: 'onnx/model_q4f16.onnx', what: 'Qwen3 q4f16: q/k norms as Reshape, SimplifiedLayerNormalization, Reshape', f16: true, pastCases: 'streaming', fitting: QWEN3_CHUNKS },
  {
    folder: 'tiny-qwen3', onnxFile: 'onnx/model_q4f16_fusedqk.onnx', what: 'Qwen3 q4f16 with the q/k norms fused into GroupQueryAttention', f16: true, pastCases: 'none',
    fitting: QWEN3_CHUNKS, oracleFile: 'onnx/model_q4f16.onnx',
  },
  { folder: 'published/genai-tiny-llama-fp16', what: 'MultiHeadAttention + RotaryEmbedding with position_ids, genai_config.json only', f16: true, pastCases: 'streaming', prefillThenDecode: true },
  { folder: 'published/genai-tiny-llama-fp32-gqa', what: 'older builder GQA: packed QKV, keys and values interleaved, genai_config.json only', f16: false, pastCases: 'streaming' },
];

/** Past the cache: 4 + 28 holds 32 tokens, the stream is 48 (onnxruntime's WebGPU MatMulNBits
 *  over a 32K vocabulary takes most of a second per token on SwiftShader). */
const STREAM = 48;
const SINKS = 4;
const WINDOW = 28;

/** Every mode: a prefill that fills the cache, then one token at a time through the evictions, as a
 *  chat decodes (streaming); prefill chunks crossing evictions (window; streaming in chunks of 13
 *  runs on every other file); and fresh passes over V(t) once it has lost tokens (recompute: until
 *  the cache is full V(t) is the whole prefix, one pass scores it). */
type PastCase = { mode: 'streaming' | 'window' | 'recompute'; chunk: number; prefill?: number };
const ALL_CASES: PastCase[] = [
  { mode: 'streaming', chunk: 1, prefill: SINKS + WINDOW },
  { mode: 'window', chunk: 13 },
  { mode: 'recompute', chunk: 32, prefill: SINKS + WINDOW },
];
const STREAMING_CASE: PastCase = { mode: 'streaming', chunk: 13 };

const { call } = useLabPage<Harness>('lab/harness/index.html', 'harness');

function randomIds(n: number, vocab: number, seed: number): number[] {
  const rng = mulberry32(seed);
  return Array.from({ length: n }, () => Math.floor(rng() * vocab));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

function unpack(base64: string): Float32Array {
  const bytes = Buffer.from(base64, 'base64');
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

function concat(rows: Float32Array[]): Float32Array {
  const out = new Float32Array(rows.reduce((n, r) => n + r.length, 0));
  rows.reduce((at, r) => (out.set(r, at), at + r.length), 0);
  return out;
}

for (const e of EXPORTS) {
  describe(`${e.folder}${e.onnxFile ? `/${e.onnxFile}` : ''}: ${e.what}`, () => {
    const model = describeModel(`${ROOT}/${e.folder}`, e.onnxFile);
    // onnxruntime's CPU lacks GroupQueryAttention's fused q/k norm: its oracle is the same weights with the norms as nodes.
    const files = loadModelFolder(`${ROOT}/${e.folder}`, e.oracleFile ?? e.onnxFile);
    // Ids below 32000: every fixture's tokenizer and embedding has them.
    const ids = randomIds(STREAM, 32000, 7);

    it(`matches onnxruntime's whole graph within 1e-4 while the stream fits the cache${e.f16 ? ' (with the graph\'s fp16 rotary tables: 3e-3)' : ''}`, { timeout: 600_000 }, async () => {
      const sizes = e.fitting ?? FITTING_CHUNKS;
      const chunks: number[][] = [];
      for (let at = 0, i = 0; i < sizes.length; at += sizes[i++]) chunks.push(ids.slice(at, at + sizes[i]));
      const job: PageJob = { model, mode: 'streaming', cache: { sinks: 4, window: 60, dtype: 'f32' }, chunk: 16 };
      const engine = unpack(await call('engineLogitsPacked', job, chunks));
      // Dense attention gives every token the same logits however the stream is cut into chunks.
      const fed = e.prefillThenDecode ? [chunks[0], ...chunks.slice(1).flat().map((id) => [id])] : chunks;
      // The kernel rotates with cos/sin computed in float64; an fp16 file's tables are rounded to
      // fp16 (5e-4), which moves these logits by up to 2.1e-3 (Qwen3). With exact tables the rest
      // must agree to 1e-4.
      const exact = maxAbsDiff(engine, concat(await oracleLogits(await files, fed, { exactRotaryTables: e.f16 })));
      console.log(`${e.folder} ${e.onnxFile ?? ''}: max |engine - onnxruntime| ${exact.toExponential(2)}${e.f16 ? ' (exact rotary tables)' : ''}`);
      expect(exact).toBeLessThan(1e-4);
      if (e.f16) {
        const asShipped = maxAbsDiff(engine, concat(await oracleLogits(await files, fed)));
        console.log(`${e.folder} ${e.onnxFile ?? ''}: max |engine - onnxruntime| ${asShipped.toExponential(2)} with the graph's fp16 rotary tables`);
        expect(asShipped).toBeLessThan(3e-3);
      }
    });

    if (e.pastCases === 'none') return;
    const cases = (e.pastCases === 'all' ? ALL_CASES : [STREAMING_CASE]).map((c) => ({
      ...c,
      cache: c.mode === 'window' ? { sinks: 0, window: SINKS + WINDOW, dtype: 'f32' as const } : { sinks: SINKS, window: WINDOW, dtype: 'f32' as const },
    }) satisfies Pick<PageJob, 'mode' | 'cache' | 'chunk' | 'prefill'>);
    const fed = (c: PastCase) =>
      c.mode === 'recompute' ? `recompute (${c.prefill ? `one pass over ${c.prefill}, then ` : ''}a fresh pass per token)` : `${c.mode} (${c.prefill ? `${c.prefill}, then ` : ''}chunks of ${c.chunk})`;
    it(`past the cache, per-token NLL equals onnxruntime running ${cases.map(fed).join(', ')} within 1e-3`, { timeout: 900_000 }, async () => {
      const engine = await call('scoreCases', model, ids, cases);
      const oracles = new Map<string, number[]>();
      for (const [i, { mode, cache }] of cases.entries()) {
        if (!oracles.has(mode)) oracles.set(mode, await oracleStreamNll(await files, ids, mode, cache.sinks, cache.window, { exactRotaryTables: e.f16 }));
        const diff = maxAbsDiff(engine[i], oracles.get(mode)!);
        console.log(`${e.folder} ${e.onnxFile ?? ''} ${fed(cases[i])} ${cache.sinks}+${cache.window}: max |NLL - onnxruntime| ${diff.toExponential(2)} over ${engine[i].length} tokens`);
        expect(diff, fed(cases[i])).toBeLessThan(1e-3);
      }
      // Eviction changes the answer: StreamingLLM and recomputation differ once tokens left the cache.
      if (oracles.has('recompute')) expect(maxAbsDiff(oracles.get('streaming')!, oracles.get('recompute')!)).toBeGreaterThan(1e-2);
    });
  });
}
