// The exporter's structure options in onnxruntime (wasm, in Node): unfused attention and per-head
// q/k norms compute the same model as their GroupQueryAttention forms, chunked external data
// names its files as transformers.js does and never splits a tensor, and MatMulNBits weights are
// laid out as onnxruntime reads them, K padded up to whole blocks.

import * as ort from 'onnxruntime-web';
import onnxProto from 'onnx-proto';
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { readLlama2cCheckpoint, type Llama2cWeights } from '../../src/engine/llama2c/llama2c.ts';
import { STORIES260K_CHECKPOINT } from '../../lab/fixtures.ts';
import { exportLlama2cForm, quantizeQ4, type OnnxExport } from '../../lab/onnxExportForms.ts';

const { onnx } = onnxProto;
const VOCAB = 512;
const PROMPT = [1, 403, 407, 261, 378, 432, 383, 286, 261];

ort.env.wasm.numThreads = 1;

let weights: Llama2cWeights;

beforeAll(async () => {
  weights = readLlama2cCheckpoint(new Uint8Array(await readFile(STORIES260K_CHECKPOINT)));
});

/** Logits (PROMPT.length, vocab) of one prefill through onnxruntime, with empty past KV. */
async function prefill(exported: OnnxExport): Promise<Float32Array> {
  const externalData = exported.externalFiles.map((f) => ({ path: f.location, data: f.bytes }));
  const session = await ort.InferenceSession.create(exported.model, { executionProviders: ['wasm'], externalData });
  const n = PROMPT.length;
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(PROMPT, BigInt), [1, n]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
  };
  if (session.inputNames.includes('position_ids')) feeds.position_ids = new ort.Tensor('int64', BigInt64Array.from(PROMPT, (_, i) => BigInt(i)), [1, n]);
  for (const m of session.inputMetadata) {
    if (!m.name.startsWith('past_key_values') || !('shape' in m)) continue;
    feeds[m.name] = new ort.Tensor('float32', new Float32Array(0), [1, Number(m.shape[1]), 0, Number(m.shape[3])]);
  }
  const logits = (await session.run(feeds)).logits;
  expect(logits.dims).toEqual([1, n, VOCAB]);
  await session.release();
  return logits.data as Float32Array;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
}

// Exporting and opening a session takes a few seconds on a busy 2-core machine.
const SESSION_TIMEOUT = { timeout: 60_000 };

describe('attention forms', SESSION_TIMEOUT, () => {
  it('unfused attention computes the same logits as GroupQueryAttention over padded heads', async () => {
    const unfused = exportLlama2cForm(weights, { attention: 'unfused' });
    const ops = new Set(onnx.ModelProto.decode(unfused.model).graph!.node!.map((n) => n.opType));
    for (const op of ['Softmax', 'Neg', 'Slice', 'Concat', 'Expand', 'Where']) expect(ops).toContain(op);
    expect(ops).not.toContain('GroupQueryAttention');
    expect(maxAbsDiff(await prefill(unfused), await prefill(exportLlama2cForm(weights)))).toBeLessThan(1e-4);
  });

  it('a per-head q/k norm is the same model in both forms, and a different one from the plain export', async () => {
    const gqa = await prefill(exportLlama2cForm(weights, { qkNorm: true }));
    expect(maxAbsDiff(await prefill(exportLlama2cForm(weights, { attention: 'unfused', qkNorm: true })), gqa)).toBeLessThan(1e-4);
    expect(maxAbsDiff(await prefill(exportLlama2cForm(weights)), gqa)).toBeGreaterThan(0.1);
  });
});

describe('chunked external data', SESSION_TIMEOUT, () => {
  it('writes model.onnx_data, model.onnx_data_1, ... with whole tensors, loading to the embedded logits', async () => {
    const chunkBytes = 300 * 1024;
    const chunked = exportLlama2cForm(weights, { externalData: { location: 'model.onnx_data', chunkBytes } });
    const names = chunked.externalFiles.map((f) => f.location);
    expect(names.length).toBeGreaterThanOrEqual(3);
    expect(names).toEqual(['model.onnx_data', ...names.slice(1).map((_, i) => `model.onnx_data_${i + 1}`)]);

    const perFile = new Map<string, number>();
    for (const t of onnx.ModelProto.decode(chunked.model).graph!.initializer!) {
      if (t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) continue;
      const entry = Object.fromEntries((t.externalData ?? []).map((e) => [e.key, e.value]));
      const file = chunked.externalFiles.find((f) => f.location === entry.location)!;
      expect(Number(entry.offset) + Number(entry.length)).toBeLessThanOrEqual(file.bytes.byteLength);
      perFile.set(file.location, (perFile.get(file.location) ?? 0) + 1);
    }
    for (const file of chunked.externalFiles) {
      // Over the limit only when one tensor alone is larger.
      if (file.bytes.byteLength > chunkBytes) expect(perFile.get(file.location)).toBe(1);
    }
    expect(await prefill(chunked)).toEqual(await prefill(exportLlama2cForm(weights)));
  });
});

describe('MatMulNBits weights', () => {
  const [K, N] = [40, 6]; // K is not a multiple of the 32-row block
  const w = Float32Array.from({ length: K * N }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 7)));

  /** (K, N) weight back from MatMulNBits' blocks: (q - zp) * scale. */
  function dequantize(q: ReturnType<typeof quantizeQ4>): Float32Array {
    const out = new Float32Array(K * N);
    for (let n = 0; n < N; n++) {
      for (let k = 0; k < K; k++) {
        const b = Math.floor(k / 32);
        const byte = q.packed[(n * q.nBlocks + b) * 16 + ((k % 32) >> 1)];
        const value = k % 2 ? byte >> 4 : byte & 15;
        const zpByte = q.zeroPoints[n * Math.ceil(q.nBlocks / 2) + (b >> 1)];
        const zp = b % 2 ? zpByte >> 4 : zpByte & 15;
        out[k * N + n] = (value - zp) * q.scales[n * q.nBlocks + b];
      }
    }
    return out;
  }

  it('rounds every weight to within half a step of its block and pads K with the zero point', () => {
    const q = quantizeQ4(w, K, N);
    expect(q.nBlocks).toBe(2);
    expect(q.packed.byteLength).toBe(N * 2 * 16);
    const back = dequantize(q);
    for (let i = 0; i < K * N; i++) {
      const scale = q.scales[(i % N) * 2 + Math.floor(Math.floor(i / N) / 32)];
      expect(Math.abs(back[i] - w[i]), `weight ${i}`).toBeLessThanOrEqual(scale / 2 + 1e-6);
    }
    // Rows 40..63 of the second block hold the zero point: they dequantize to exactly 0.
    for (let n = 0; n < N; n++) {
      const zp = q.zeroPoints[n] >> 4;
      for (let k = 40; k < 64; k += 2) expect(q.packed[(n * 2 + 1) * 16 + ((k % 32) >> 1)]).toBe(zp | (zp << 4));
    }
  });

  it('is read by onnxruntime as the dequantized weight', async () => {
    const q = quantizeQ4(w, K, N);
    const model = onnx.ModelProto.encode({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }],
      graph: {
        name: 'matmulnbits',
        node: [{
          opType: 'MatMulNBits', domain: 'com.microsoft', input: ['a', 'b', 'scales', 'zp'], output: ['y'],
          attribute: ['K', 'N', 'bits', 'block_size'].map((name, i) => ({ name, type: onnx.AttributeProto.AttributeType.INT, i: [K, N, 4, 32][i] })),
        }],
        initializer: [
          { name: 'b', dataType: 2, dims: [N, 2, 16], rawData: q.packed },
          { name: 'scales', dataType: 1, dims: [N * 2], floatData: Array.from(q.scales) },
          { name: 'zp', dataType: 2, dims: [q.zeroPoints.length], rawData: q.zeroPoints },
        ],
        input: [{ name: 'a', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 3 }, { dimValue: K }] } } } }],
        output: [{ name: 'y', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 3 }, { dimValue: N }] } } } }],
      },
    }).finish();
    const a = Float32Array.from({ length: 3 * K }, (_, i) => Math.cos(i));
    const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'] });
    const y = (await session.run({ a: new ort.Tensor('float32', a, [3, K]) })).y.data as Float32Array;
    const back = dequantize(q);
    const expected = new Float32Array(3 * N);
    for (let r = 0; r < 3; r++) for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) expected[r * N + n] += a[r * K + k] * back[k * N + n];
    expect(maxAbsDiff(y, expected)).toBeLessThan(1e-4);
    await session.release();
  });
});
