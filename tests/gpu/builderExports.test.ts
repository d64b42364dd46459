// The ONNX files the hub really ships (onnxruntime-genai builder exports; tests/fixtures/builder-exports),
// loaded through the app's own path from a model folder, in headless Chromium:
//   - while the stream fits the cache, engine logits equal onnxruntime (wasm) running the whole
//     graph with its own attention and a growing past_key_values;
//   - past the cache, per-token NLL equals onnxruntime running StreamingLLM itself (the past
//     holding V(t) only, keys re-rotated to their ranks with the graph's own tables), for
//     streaming and window attention in chunks of 1 and 13, and sliding-window recomputation.
// fp16 files run widened to fp32 where the GPU lacks shader-f16 (SwiftShader), and the oracle runs
// the same widened graph.

import { describe, expect, it } from 'vitest';
import { useLabPage } from './labPage.ts';
import { describeModel } from '../../tools/harness.ts';
import type { PageJob, ScoreResult } from '../../tools/harnessJob.ts';
import type { Harness } from '../../tools/harness/main.ts';
import { mulberry32 } from './page/random.ts';
import { loadModelFolder } from '../reference/modelFolder.ts';
import { oracleLogits, oracleStreamNll } from '../reference/onnxOracle.ts';

const ROOT = 'tests/fixtures/builder-exports';

interface Export {
  folder: string;
  onnxFile?: string;
  what: string;
  /** fp16 activations: the widened graph's fp16-rounded rotary tables against the kernel's exact ones. */
  f16: boolean;
  /** The file onnxruntime's CPU runs instead, where it cannot run this one (same weights). */
  oracleFile?: string;
  /** Every past-the-cache case, or only streaming in chunks of 13 (the others cover the rest). */
  allModes: boolean;
}

const EXPORTS: Export[] = [
  { folder: 'tiny-qwen2', onnxFile: 'onnx/model_q4.onnx', what: 'Qwen2: packed QKV with bias, MatMulNBits, GatherBlockQuantized tied embedding', f16: false, allModes: true },
  { folder: 'tiny-qwen2', onnxFile: 'onnx/model_q4f16.onnx', what: 'Qwen2 q4f16, widened to f32', f16: true, allModes: false },
  { folder: 'tiny-qwen2', onnxFile: 'onnx/model_fp16.onnx', what: 'Qwen2 fp16: MatMul weights, Transpose+Gather tied embedding, widened', f16: true, allModes: false },
  { folder: 'tiny-llama', onnxFile: 'onnx/model_q4f16.onnx', what: 'Llama (SmolLM2 form) q4f16: untied fp16 embedding, widened', f16: true, allModes: false },
  { folder: 'tiny-qwen3', onnxFile: 'onnx/model_q4f16.onnx', what: 'Qwen3 q4f16: q/k norms as Reshape, SimplifiedLayerNormalization, Reshape', f16: true, allModes: true },
  {
    folder: 'tiny-qwen3', onnxFile: 'onnx/model_q4f16_fusedqk.onnx', what: 'Qwen3 q4f16 with the q/k norms fused into GroupQueryAttention', f16: true, allModes: false,
    oracleFile: 'onnx/model_q4f16.onnx',
  },
  { folder: 'published/genai-tiny-llama-fp16', what: 'MultiHeadAttention + RotaryEmbedding with position_ids, genai_config.json only', f16: true, allModes: true },
  { folder: 'published/genai-tiny-llama-fp32-gqa', what: 'older builder GQA: packed QKV, keys and values interleaved, genai_config.json only', f16: false, allModes: false },
];

/** Chunk sizes while the stream fits a 4 + 60 cache: single tokens, odd sizes, the largest piece. */
const FITTING_CHUNKS = [1, 5, 16, 1, 1, 13, 3];
/** Past the cache: 4 + 28 holds 32 tokens, the stream is 80. */
const STREAM = 80;
const SINKS = 4;
const WINDOW = 28;

const { call } = useLabPage<Harness>('tools/harness/index.html', 'harness');

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

    it(`matches onnxruntime's whole graph within ${e.f16 ? '1e-3' : '1e-4'} while the stream fits the cache`, async () => {
      const chunks: number[][] = [];
      for (let at = 0, i = 0; i < FITTING_CHUNKS.length; at += FITTING_CHUNKS[i++]) chunks.push(ids.slice(at, at + FITTING_CHUNKS[i]));
      const job: PageJob = { model, mode: 'streaming', cache: { sinks: 4, window: 60 }, chunk: 16 };
      const engine = unpack(await call('engineLogitsPacked', job, chunks));
      const oracle = concat(await oracleLogits(await files, chunks));
      const diff = maxAbsDiff(engine, oracle);
      console.log(`${e.folder} ${e.onnxFile ?? ''}: max |engine - onnxruntime| ${diff.toExponential(2)}`);
      expect(diff).toBeLessThan(e.f16 ? 1e-3 : 1e-4);
    });

    const cases: { mode: 'streaming' | 'window' | 'recompute'; chunk: number }[] = e.allModes
      ? [
          { mode: 'streaming', chunk: 1 },
          { mode: 'streaming', chunk: 13 },
          { mode: 'window', chunk: 1 },
          { mode: 'window', chunk: 13 },
          { mode: 'recompute', chunk: 32 },
        ]
      : [{ mode: 'streaming', chunk: 13 }];
    it(`past the cache, per-token NLL equals onnxruntime running ${cases.map((c) => `${c.mode} (chunks of ${c.chunk})`).join(', ')} within 1e-3`, async () => {
      const oracles = new Map<string, number[]>();
      for (const { mode, chunk } of cases) {
        const sinks = mode === 'window' ? 0 : SINKS;
        const window = mode === 'window' ? SINKS + WINDOW : WINDOW;
        if (!oracles.has(mode)) oracles.set(mode, await oracleStreamNll(await files, ids, mode, sinks, window));
        const result = (await call('run', { model, mode, cache: { sinks, window }, chunk, score: ids })) as ScoreResult;
        const diff = maxAbsDiff(result.nll, oracles.get(mode)!);
        console.log(`${e.folder} ${e.onnxFile ?? ''} ${mode} ${sinks}+${window} chunk ${chunk}: max |NLL - onnxruntime| ${diff.toExponential(2)} over ${result.nll.length} tokens`);
        expect(diff, `${mode} chunk ${chunk}`).toBeLessThan(1e-3);
      }
      // Eviction changes the answer: StreamingLLM and recomputation differ once tokens left the cache.
      if (oracles.has('recompute')) expect(maxAbsDiff(oracles.get('streaming')!, oracles.get('recompute')!)).toBeGreaterThan(1e-2);
    });
  });
}
