// widenFloat16 on onnxruntime-genai builder exports and on hand-built graphs, run in onnxruntime
// (wasm, in Node): no float16 is left anywhere, values are converted exactly, the weights files are
// referenced rather than copied, and the widened decoders compute what their float16 originals
// compute, to float16 rounding, and what the builder's own float32 graphs compute, exactly.

import * as ort from 'onnxruntime-web';
import onnxProto, { type onnx } from 'onnx-proto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { usesFloat16, widenFloat16, WIDENED_DATA_PATH, type OnnxFiles } from '../../src/engine/split/widenFloat16.ts';
import { errorOf } from './errorOf.ts';

const { ModelProto, GraphProto, NodeProto, TensorProto, AttributeProto } = onnxProto.onnx;
const { FLOAT, FLOAT16, INT64, BOOL } = TensorProto.DataType;
const FIXTURES = fileURLToPath(new URL('../fixtures/builder-exports/', import.meta.url));
/** Head size of every fixture; the builder leaves the KV cache's last dim symbolic (kv_cache_dim). */
const HEAD_SIZE = 16;
const PROMPT = Array.from({ length: 20 }, (_, t) => ((t * 7919 + 13) % 30000) + 3);
const NEXT_ID = 1234;

ort.env.wasm.numThreads = 1;

/** A fixture's graph and the weights files its initializers name, as the engine would hand them over. */
function loadFiles(path: string): OnnxFiles {
  const model = new Uint8Array(readFileSync(FIXTURES + path));
  const dir = path.slice(0, path.lastIndexOf('/') + 1);
  const locations = new Set(ModelProto.decode(model).graph!.initializer!.map((t) => externalEntry(t).location));
  return { model, externalData: [...locations].map((location) => ({ path: location, data: new Uint8Array(readFileSync(FIXTURES + dir + location)) })) };
}

function externalEntry(t: onnx.ITensorProto): Record<string, string> {
  return Object.fromEntries((t.externalData ?? []).map((e) => [e.key, e.value]));
}

/** float16 -> number by the format's definition (the module converts bit patterns through a table). */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

function float32(t: ort.Tensor): Float32Array {
  return t.type === 'float16' ? Float32Array.from(t.data as Uint16Array, halfToFloat) : (t.data as Float32Array);
}

/**
 * Every place in a decoded model that says FLOAT16, found by walking all of its fields rather than
 * the ones the module knows about: element and data types, and dtype-like int attributes.
 */
function float16Fields(message: object, path = 'model'): string[] {
  const found: string[] = [];
  const m = message as Record<string, unknown>;
  if (typeof m.name === 'string' && 'i' in m && /^to$|type$/.test(m.name) && Number(m.i) === FLOAT16) found.push(`${path} (${m.name})`);
  for (const [key, value] of Object.entries(m)) {
    if ((key === 'dataType' || key === 'elemType') && value === FLOAT16) found.push(`${path}.${key}`);
    if (value && typeof value === 'object' && !(value instanceof Uint8Array)) found.push(...float16Fields(value, `${path}.${key}`));
  }
  return found;
}

interface DecoderRun {
  /** (PROMPT.length, vocab) logits of the prefill. */
  prefill: Float32Array;
  /** (1, vocab) logits of one decode step fed the prefill's present KV. */
  decode: Float32Array;
  /** Element type the session's past KV inputs take. */
  kvType: string;
}

/** A prefill of PROMPT then one decode step of NEXT_ID, inputs bound by name. */
async function runDecoder(files: OnnxFiles): Promise<DecoderRun> {
  const session = await ort.InferenceSession.create(files.model, { executionProviders: ['wasm'], externalData: files.externalData });
  const pastInputs = session.inputMetadata.filter((m) => m.name.startsWith('past_key_values.'));
  const kvType = pastInputs[0].isTensor ? pastInputs[0].type : 'none';
  const feeds = (ids: number[], pastLength: number): Record<string, ort.Tensor> => {
    const total = pastLength + ids.length;
    const f: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(total).fill(1n), [1, total]),
    };
    if (session.inputNames.includes('position_ids')) {
      f.position_ids = new ort.Tensor('int64', BigInt64Array.from(ids, (_, t) => BigInt(pastLength + t)), [1, ids.length]);
    }
    return f;
  };
  const empty: Record<string, ort.Tensor> = {};
  for (const m of pastInputs) {
    const nKvHeads = m.isTensor ? Number(m.shape[1]) : 0;
    // (1, nKvHeads, 0, headSize): no past yet
    empty[m.name] = new ort.Tensor(kvType as 'float32' | 'float16', kvType === 'float16' ? new Uint16Array(0) : new Float32Array(0), [1, nKvHeads, 0, HEAD_SIZE]);
  }
  const first = await session.run({ ...feeds(PROMPT, 0), ...empty });
  const past = Object.fromEntries(pastInputs.map((m) => [m.name, first[m.name.replace('past_key_values.', 'present.')]]));
  const second = await session.run({ ...feeds([NEXT_ID], PROMPT.length), ...past });
  await session.release();
  return { prefill: float32(first.logits), decode: float32(second.logits), kvType };
}

const fixtureRuns = new Map<string, Promise<DecoderRun>>();

/** A fixture's run, as published or widened; several tests compare against the same ones. */
function runFixture(path: string, widen: boolean): Promise<DecoderRun> {
  const key = `${path} ${widen}`;
  if (!fixtureRuns.has(key)) fixtureRuns.set(key, runDecoder(widen ? widenFloat16(loadFiles(path)) : loadFiles(path)));
  return fixtureRuns.get(key)!;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
}

// Opening sessions and running them takes seconds on a busy 2-core machine.
const SESSION_TIMEOUT = { timeout: 60_000 };

const FLOAT16_DECODERS = [
  'tiny-qwen2/onnx/model_q4f16.onnx',
  'tiny-qwen2/onnx/model_fp16.onnx',
  'tiny-llama/onnx/model_q4f16.onnx',
  'tiny-qwen3/onnx/model_q4f16.onnx',
  'tiny-qwen3/onnx/model_q4f16_fusedqk.onnx',
  'published/genai-tiny-llama-fp16/model.onnx',
];

describe('widening the builder exports', () => {
  describe.each(FLOAT16_DECODERS)('%s', (path) => {
    const files = loadFiles(path);
    const before = ModelProto.decode(files.model);
    const widened = widenFloat16(files);
    const after = ModelProto.decode(widened.model);

    it('leaves no float16 anywhere: initializers, Cast targets, constants, inputs, outputs, value_info', () => {
      expect(usesFloat16(files.model)).toBe(true);
      expect(float16Fields(before).length).toBeGreaterThan(0);
      expect(float16Fields(after)).toEqual([]);
      expect(usesFloat16(widened.model)).toBe(false);
      for (const v of [...after.graph!.input!, ...after.graph!.output!]) {
        if (v.name!.startsWith('past_key_values.') || v.name!.startsWith('present.') || v.name === 'logits') expect(v.type!.tensorType!.elemType).toBe(FLOAT);
      }
    });

    it('keeps every node and converts every float16 initializer exactly into the one new file', () => {
      expect(after.graph!.node!.map((n) => `${n.opType} ${n.name} ${n.input} -> ${n.output}`)).toEqual(
        before.graph!.node!.map((n) => `${n.opType} ${n.name} ${n.input} -> ${n.output}`),
      );
      const widenedFile = widened.externalData.find((f) => f.path === WIDENED_DATA_PATH)!.data;
      const original = new Map(files.externalData.map((f) => [f.path, f.data]));
      let float16Bytes = 0;
      let expectedSize = 0;
      for (const [i, t] of before.graph!.initializer!.entries()) {
        const w = after.graph!.initializer![i];
        expect(w.name).toBe(t.name);
        expect(w.dims!.map(Number)).toEqual(t.dims!.map(Number));
        if (t.dataType !== FLOAT16) {
          // Referenced where it was: same file, offset and length.
          expect([w.dataType, externalEntry(w)]).toEqual([t.dataType, externalEntry(t)]);
          continue;
        }
        const from = externalEntry(t);
        const to = externalEntry(w);
        expect([w.dataType, to.location, Number(to.offset) % 64]).toEqual([FLOAT, WIDENED_DATA_PATH, 0]);
        const half = new Uint16Array(original.get(from.location)!.slice(Number(from.offset), Number(from.offset) + Number(from.length)).buffer);
        const expected = new Uint8Array(Float32Array.from(half, halfToFloat).buffer);
        const values = widenedFile.subarray(Number(to.offset), Number(to.offset) + Number(to.length));
        expect(Buffer.compare(values, expected), `values of ${t.name}`).toBe(0);
        float16Bytes += half.byteLength;
        expectedSize += Math.ceil((half.length * 4) / 64) * 64;
      }
      // Twice the float16 bytes, each tensor padded to 64: nothing else was copied into it.
      expect(widenedFile.byteLength).toBe(expectedSize);
      expect(widenedFile.byteLength).toBeGreaterThanOrEqual(2 * float16Bytes);
      expect(widenedFile.byteLength).toBeLessThan(2 * float16Bytes + 64 * before.graph!.initializer!.length);
    });

    it('hands back the original weights files as given, byte for byte', () => {
      expect(widened.externalData.length).toBe(files.externalData.length + 1);
      files.externalData.forEach((f, i) => {
        expect(widened.externalData[i]).toBe(f);
        expect(Buffer.compare(f.data, readFileSync(FIXTURES + path.slice(0, path.lastIndexOf('/') + 1) + f.path))).toBe(0);
      });
    });
  });

  it('turns Cast-to-float16 nodes and float16 constants into float32 ones', () => {
    const { model } = widenFloat16(loadFiles('published/genai-tiny-llama-fp16/model.onnx'));
    const nodes = ModelProto.decode(model).graph!.node!;
    const cast = nodes.find((n) => n.name === '/model/attn_mask_reformat/attn_mask_subgraph/Cast_1')!;
    expect(Number(cast.attribute![0].i)).toBe(FLOAT);
    const fill = nodes.find((n) => n.name === '/model/attn_mask_reformat/input_ids_subgraph/ConstantOfShape_2')!.attribute![0].t!;
    const minimum = nodes.find((n) => n.name === '/model/constant_nodes/TensorProto.FLOAT16/0D/-65504.0')!.attribute![0].t!;
    expect([fill.dataType, minimum.dataType]).toEqual([FLOAT, FLOAT]);
    expect(new Float32Array(Uint8Array.from(minimum.rawData!).buffer)).toEqual(Float32Array.of(-65504));
  });
});

describe('widened decoders in onnxruntime', SESSION_TIMEOUT, () => {
  // Each bound is about twice the figure measured with onnxruntime-web 1.30 (wasm, one thread),
  // which is deterministic: the difference is the float16 graph rounding its activations, not the
  // widened one (see the exact comparisons below). Measured max |logit diff|, prefill / decode:
  //   tiny-qwen2 q4f16 0.0044 / 0.0025 (|logits| up to 3.6), tiny-qwen2 fp16 0.0040 / 0.0019 (4.2),
  //   tiny-llama q4f16 0.0062 / 0.0049 (3.8), tiny-qwen3 q4f16 0.0085 / 0.0072 (4.1),
  //   genai-tiny-llama-fp16 2.4e-4 / 2.0e-4 (0.38).
  it.each([
    ['tiny-qwen2/onnx/model_q4f16.onnx', 0.009],
    ['tiny-qwen2/onnx/model_fp16.onnx', 0.008],
    ['tiny-llama/onnx/model_q4f16.onnx', 0.013],
    ['tiny-qwen3/onnx/model_q4f16.onnx', 0.017],
    ['published/genai-tiny-llama-fp16/model.onnx', 5e-4],
  ])('%s widened computes the float16 graph’s logits to float16 rounding (prefill and one decode step)', async (path, bound) => {
    const original = await runFixture(path, false);
    const widened = await runFixture(path, true);
    expect([original.kvType, widened.kvType]).toEqual(['float16', 'float32']);
    const diff = [maxAbsDiff(widened.prefill, original.prefill), maxAbsDiff(widened.decode, original.decode)];
    console.log(`${path}: widened vs float16, max |logit diff| prefill ${diff[0].toExponential(2)}, decode ${diff[1].toExponential(2)}`);
    expect(Math.max(...diff)).toBeLessThan(bound);
  });

  it('tiny-qwen2 q4f16 widened computes exactly what the builder’s float32 graph (model_q4) computes over the same weights', async () => {
    // model_q4.onnx is the same checkpoint built with float32 activations, but quantized from
    // float32 weights: about 0.1% of its int4 values and all of its scales differ from the q4f16
    // build's. Pointing its graph at the q4f16 weights (scales converted here by the float16
    // definition) leaves only the graphs to compare, and they agree bit for bit.
    const q4f16 = loadFiles('tiny-qwen2/onnx/model_q4f16.onnx');
    const q4 = loadFiles('tiny-qwen2/onnx/model_q4.onnx');
    const q4f16Data = q4f16.externalData[0];
    const q4f16Tensors = new Map(ModelProto.decode(q4f16.model).graph!.initializer!.map((t) => [t.name!, t]));
    const graph = ModelProto.decode(q4.model);
    const scales: Float32Array[] = [];
    let offset = 0;
    for (const t of graph.graph!.initializer!) {
      const source = q4f16Tensors.get(t.name!)!;
      const at = externalEntry(source);
      if (source.dataType !== FLOAT16) {
        expect(source.dataType).toBe(t.dataType);
        t.externalData = source.externalData;
        continue;
      }
      expect(t.dataType).toBe(FLOAT);
      const half = new Uint16Array(q4f16Data.data.slice(Number(at.offset), Number(at.offset) + Number(at.length)).buffer);
      scales.push(Float32Array.from(half, halfToFloat));
      t.externalData = [
        { key: 'location', value: 'scales.bin' },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(half.length * 4) },
      ];
      offset += half.length * 4;
    }
    const scalesFile = new Uint8Array(offset);
    scales.reduce((at, s) => (scalesFile.set(new Uint8Array(s.buffer), at), at + s.byteLength), 0);
    const reference = await runDecoder({ model: ModelProto.encode(graph).finish(), externalData: [q4f16Data, { path: 'scales.bin', data: scalesFile }] });
    const widened = await runFixture('tiny-qwen2/onnx/model_q4f16.onnx', true);
    expect(maxAbsDiff(widened.prefill, reference.prefill)).toBe(0);
    expect(maxAbsDiff(widened.decode, reference.decode)).toBe(0);

    // Against model_q4.onnx as published, the int4 values that differ set the distance, and it is
    // the float16 graph's own: measured 0.198 / 0.119 (widened) and 0.198 / 0.119 (float16).
    const published = await runFixture('tiny-qwen2/onnx/model_q4.onnx', false);
    const original = await runFixture('tiny-qwen2/onnx/model_q4f16.onnx', false);
    const diff = [maxAbsDiff(widened.prefill, published.prefill), maxAbsDiff(widened.decode, published.decode)];
    const originalDiff = [maxAbsDiff(original.prefill, published.prefill), maxAbsDiff(original.decode, published.decode)];
    console.log(`tiny-qwen2 q4f16 vs model_q4: widened ${diff.map((d) => d.toFixed(4))}, float16 ${originalDiff.map((d) => d.toFixed(4))}`);
    expect(diff[0]).toBeLessThan(0.21);
    expect(diff[1]).toBeLessThan(0.13);
    expect(Math.abs(diff[0] - originalDiff[0])).toBeLessThan(0.001);
  });

  it('genai-tiny-llama-fp16 widened computes what its published float32 sibling computes from the same weights', async () => {
    // The fp32 sibling's weights are the fp16 model's converted to float32 (q/k/v packed for its
    // GroupQueryAttention, cos/sin recomputed in float32); measured 1.5e-7 / 7.5e-8, against
    // 2.4e-4 for the float16 graph itself.
    const widened = await runFixture('published/genai-tiny-llama-fp16/model.onnx', true);
    const reference = await runFixture('published/genai-tiny-llama-fp32-gqa/model.onnx', false);
    const diff = [maxAbsDiff(widened.prefill, reference.prefill), maxAbsDiff(widened.decode, reference.decode)];
    console.log(`genai-tiny-llama-fp16 widened vs fp32 sibling: ${diff.map((d) => d.toExponential(2))}`);
    expect(Math.max(...diff)).toBeLessThan(5e-7);
  });
});

// Hand-built graphs for the forms the builder does not write: float16 embedded as raw_data or
// int32_data, special values, ConstantOfShape, subgraphs, and what must be refused.

/** float16 bit patterns: ±0, smallest and largest subnormal, smallest normal, 1/3, largest, ±inf, NaN. */
const SPECIAL_HALVES = [0x0000, 0x8000, 0x0001, 0x03ff, 0x0400, 0x3555, 0xc000, 0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x7e00];

function tensorInfo(name: string, elemType: number, dims: number[]): onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } };
}

function half(name: string, bits: number[], form: 'raw' | 'int32' = 'raw'): onnx.ITensorProto {
  const raw = new Uint8Array(Uint16Array.from(bits).buffer);
  return TensorProto.create({ name, dataType: FLOAT16, dims: [bits.length], ...(form === 'raw' ? { rawData: raw } : { int32Data: bits }) });
}

function constantNode(output: string, value: onnx.ITensorProto): onnx.INodeProto {
  return NodeProto.create({ opType: 'Constant', name: output, output: [output], attribute: [{ name: 'value', type: AttributeProto.AttributeType.TENSOR, t: value }] });
}

function encodeModel(graph: onnx.IGraphProto): Uint8Array {
  return ModelProto.encode(ModelProto.create({ irVersion: 10, opsetImport: [{ domain: '', version: 21 }], graph: GraphProto.create(graph) })).finish();
}

/** float16 in every form the builder does not use, each read back through an output. */
function handBuiltModel(): Uint8Array {
  const branch = (value: number) =>
    GraphProto.create({ name: `branch_${value}`, node: [constantNode(`branch_${value}_out`, half(`c${value}`, [value]))], output: [tensorInfo(`branch_${value}_out`, FLOAT16, [1])] });
  const identity = (input: string, output: string) => NodeProto.create({ opType: 'Identity', name: output, input: [input], output: [output] });
  return encodeModel({
    name: 'hand_built',
    initializer: [
      half('raw_weights', SPECIAL_HALVES),
      half('int32_weights', SPECIAL_HALVES, 'int32'),
      TensorProto.create({ name: 'fill_shape', dataType: INT64, dims: [1], int64Data: [3] }),
    ],
    node: [
      identity('x', 'x_out'),
      identity('raw_weights', 'raw_out'),
      identity('int32_weights', 'int32_out'),
      constantNode('constant_out', half('constant', [...SPECIAL_HALVES].reverse())),
      NodeProto.create({
        opType: 'ConstantOfShape', name: 'fill', input: ['fill_shape'], output: ['fill_out'],
        attribute: [{ name: 'value', type: AttributeProto.AttributeType.TENSOR, t: half('fill_value', [0xfbff]) }],
      }),
      NodeProto.create({ opType: 'Cast', name: 'narrow', input: ['y'], output: ['narrow_out'], attribute: [{ name: 'to', type: AttributeProto.AttributeType.INT, i: FLOAT16 }] }),
      NodeProto.create({
        opType: 'If', name: 'choose', input: ['cond'], output: ['choice_out'],
        attribute: [
          { name: 'then_branch', type: AttributeProto.AttributeType.GRAPH, g: branch(0x3e00) },
          { name: 'else_branch', type: AttributeProto.AttributeType.GRAPH, g: branch(0xc100) },
        ],
      }),
    ],
    input: [tensorInfo('x', FLOAT16, [2]), tensorInfo('y', FLOAT, [1]), tensorInfo('cond', BOOL, [])],
    output: [
      tensorInfo('x_out', FLOAT16, [2]),
      tensorInfo('raw_out', FLOAT16, [SPECIAL_HALVES.length]),
      tensorInfo('int32_out', FLOAT16, [SPECIAL_HALVES.length]),
      tensorInfo('constant_out', FLOAT16, [SPECIAL_HALVES.length]),
      tensorInfo('fill_out', FLOAT16, [3]),
      tensorInfo('narrow_out', FLOAT16, [1]),
      tensorInfo('choice_out', FLOAT16, [1]),
    ],
  });
}

async function runHandBuilt(model: OnnxFiles, cond: boolean): Promise<Record<string, number[]>> {
  const session = await ort.InferenceSession.create(model.model, { executionProviders: ['wasm'], externalData: model.externalData });
  const xType = session.inputMetadata.find((m) => m.name === 'x')!;
  const x = xType.isTensor && xType.type === 'float16' ? new ort.Tensor('float16', Uint16Array.of(0x3c00, 0x8001), [2]) : new ort.Tensor('float32', Float32Array.of(1, -(2 ** -24)), [2]);
  const out = await session.run({ x, y: new ort.Tensor('float32', Float32Array.of(1 / 3), [1]), cond: new ort.Tensor('bool', Uint8Array.of(cond ? 1 : 0), []) });
  await session.release();
  return Object.fromEntries(Object.entries(out).map(([name, t]) => [name, Array.from(float32(t))]));
}

describe('widening hand-built graphs', SESSION_TIMEOUT, () => {
  it('converts raw_data, int32_data, Constant, ConstantOfShape and If-branch float16 exactly, special values included', async () => {
    const files = { model: handBuiltModel(), externalData: [] };
    const widened = widenFloat16(files);
    const after = ModelProto.decode(widened.model);
    expect(float16Fields(after)).toEqual([]);
    // Embedded float16 initializers move into the widened file too; int64 shape data stays inline.
    expect(after.graph!.initializer!.map((t) => externalEntry(t).location)).toEqual([WIDENED_DATA_PATH, WIDENED_DATA_PATH, undefined]);
    expect(widened.externalData.map((f) => [f.path, f.data.byteLength])).toEqual([[WIDENED_DATA_PATH, 2 * 64]]);

    for (const cond of [true, false]) {
      const original = await runHandBuilt(files, cond);
      const result = await runHandBuilt(widened, cond);
      const expected = SPECIAL_HALVES.map(halfToFloat);
      expect(result.raw_out).toEqual(expected); // toEqual tells -0 from 0 and matches NaN with NaN
      expect(result.int32_out).toEqual(expected);
      expect(result.constant_out).toEqual([...expected].reverse());
      expect(result.fill_out).toEqual([-65504, -65504, -65504]);
      expect(result.x_out).toEqual([1, -(2 ** -24)]);
      expect(result.choice_out).toEqual([cond ? 1.5 : -2.5]);
      // The Cast no longer rounds to float16: 1/3 keeps float32 precision.
      expect(result.narrow_out).toEqual([Math.fround(1 / 3)]);
      expect(original.narrow_out).toEqual([halfToFloat(0x3555)]);
      for (const name of Object.keys(original).filter((n) => n !== 'narrow_out')) expect(result[name], name).toEqual(original[name]);
    }
  });

  it('sees float16 that only a Cast inside a subgraph produces', () => {
    const cast = (to: number) =>
      GraphProto.create({
        name: 'then',
        node: [NodeProto.create({ opType: 'Cast', name: 'inner_cast', input: ['y'], output: ['inner_out'], attribute: [{ name: 'to', type: AttributeProto.AttributeType.INT, i: to }] })],
        output: [{ name: 'inner_out' }],
      });
    const model = (to: number) =>
      encodeModel({
        node: [NodeProto.create({
          opType: 'If', name: 'choose', input: ['cond'], output: ['out'],
          attribute: [{ name: 'then_branch', type: AttributeProto.AttributeType.GRAPH, g: cast(to) }, { name: 'else_branch', type: AttributeProto.AttributeType.GRAPH, g: cast(FLOAT) }],
        })],
        input: [tensorInfo('y', FLOAT, [1]), tensorInfo('cond', BOOL, [])],
        output: [{ name: 'out' }],
      });
    expect(usesFloat16(model(FLOAT16))).toBe(true);
    expect(usesFloat16(model(FLOAT))).toBe(false);
    const widened = ModelProto.decode(widenFloat16({ model: model(FLOAT16), externalData: [] }).model);
    expect(Number(widened.graph!.node![0].attribute![0].g!.node![0].attribute![0].i)).toBe(FLOAT);
  });

  it('hands a float32 model back untouched', () => {
    for (const path of ['tiny-qwen2/onnx/model_q4.onnx', 'published/genai-tiny-llama-fp32-gqa/model.onnx']) {
      const files = loadFiles(path);
      expect(usesFloat16(files.model)).toBe(false);
      expect(widenFloat16(files)).toBe(files);
    }
  });

  it('refuses an op whose float16 dtype attribute it does not know, naming the node', () => {
    const model = encodeModel({
      node: [NodeProto.create({ opType: 'MakeTensor', domain: 'com.example', name: 'maker', output: ['out'], attribute: [{ name: 'dtype', type: AttributeProto.AttributeType.INT, i: FLOAT16 }] })],
      output: [{ name: 'out' }],
    });
    expect(usesFloat16(model)).toBe(true);
    const error = errorOf(() => widenFloat16({ model, externalData: [] }));
    expect(error.code).toBe('MODEL_UNSUPPORTED');
    expect(error.message).toMatch(/dtype = FLOAT16 in MakeTensor node "maker"/);
    expect(error.message).toMatch(/choose a float32/);
  });

  it('refuses sparse float16 initializers', () => {
    const model = encodeModel({
      sparseInitializer: [{ values: half('sparse', [0x3c00]), indices: TensorProto.create({ name: 'idx', dataType: INT64, dims: [1], int64Data: [0] }), dims: [4] }],
      output: [tensorInfo('sparse', FLOAT16, [4])],
    });
    const error = errorOf(() => widenFloat16({ model, externalData: [] }));
    expect(error.code).toBe('MODEL_UNSUPPORTED');
    expect(error.message).toMatch(/sparse float16 tensor "sparse"/);
  });

  it('says which weights file is missing', () => {
    const files = loadFiles('tiny-qwen2/onnx/model_q4f16.onnx');
    const error = errorOf(() => widenFloat16({ ...files, externalData: [] }));
    expect(error.code).toBe('MODEL_CORRUPT');
    expect(error.message).toMatch(/"model_q4f16.onnx_data", which is missing; delete the model and download it again/);
  });
});
