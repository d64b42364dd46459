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

const ROOT = 'tests/fixtures/builder-exports';

interface Export {
  folder: string;
  onnxFile?: string;
  what: string;
  /** fp16 activations: the widened graph's fp16-rounded rotary tables against the kernel's exact ones. */
  f16: boolean;
}

const EXPORTS: Export[] = [
  { folder: 'tiny-qwen2', onnxFile: 'onnx/model_q4.onnx', what: 'Qwen2, packed QKV with bias, MatMulNBits, GatherBlockQuantized tied embedding', f16: false },
  { folder: 'published/genai-tiny-llama-fp32-gqa', what: 'older builder GQA, packed QKV, keys and values interleaved, genai_config.json only', f16: false },
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

function maxAbsDiff(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
}

for (const e of EXPORTS) {
  describe(`${e.folder}${e.onnxFile ? `/${e.onnxFile}` : ''}: ${e.what}`, () => {
    const model = describeModel(`${ROOT}/${e.folder}`, e.onnxFile);
    // Ids below 32000: every fixture's tokenizer and embedding has them.
    const ids = randomIds(STREAM, 32000, 7);

    it(`matches onnxruntime's whole graph within ${e.f16 ? '1e-3' : '1e-4'} while the stream fits the cache`, async () => {
      const chunks: number[][] = [];
      for (let at = 0, i = 0; i < FITTING_CHUNKS.length; at += FITTING_CHUNKS[i++]) chunks.push(ids.slice(at, at + FITTING_CHUNKS[i]));
      const job: PageJob = { model, mode: 'streaming', cache: { sinks: 4, window: 60 }, chunk: 16 };
      const engine = await call('engineLogits', job, chunks);
      const oracle = await call('oracleLogits', model, chunks);
      const diff = maxAbsDiff(engine.flat(), oracle.flat());
      console.log(`${e.folder} ${e.onnxFile ?? ''}: max |engine - onnxruntime| ${diff.toExponential(2)}`);
      expect(diff).toBeLessThan(e.f16 ? 1e-3 : 1e-4);
    });

    const cases: { mode: 'streaming' | 'window' | 'recompute'; chunk: number }[] = [
      { mode: 'streaming', chunk: 1 },
      { mode: 'streaming', chunk: 13 },
      { mode: 'window', chunk: 1 },
      { mode: 'window', chunk: 13 },
      { mode: 'recompute', chunk: 32 },
    ];
    it(`past the cache, per-token NLL equals onnxruntime running StreamingLLM, window attention and recomputation within 1e-3`, async () => {
      const oracles = new Map<string, number[]>();
      for (const { mode, chunk } of cases) {
        const sinks = mode === 'window' ? 0 : SINKS;
        const window = mode === 'window' ? SINKS + WINDOW : WINDOW;
        if (!oracles.has(mode)) oracles.set(mode, await call('oracleNll', model, ids, mode, { sinks, window }));
        const result = (await call('run', { model, mode, cache: { sinks, window }, chunk, score: ids })) as ScoreResult;
        const diff = maxAbsDiff(result.nll, oracles.get(mode)!);
        console.log(`${e.folder} ${e.onnxFile ?? ''} ${mode} ${sinks}+${window} chunk ${chunk}: max |NLL - onnxruntime| ${diff.toExponential(2)} over ${result.nll.length} tokens`);
        expect(diff, `${mode} chunk ${chunk}`).toBeLessThan(1e-3);
      }
      // Eviction changes the answer: StreamingLLM and recomputation differ once tokens left the cache.
      expect(maxAbsDiff(oracles.get('streaming')!, oracles.get('recompute')!)).toBeGreaterThan(1e-2);
    });
  });
}
