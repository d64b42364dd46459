// The splitter on every structure the exporter writes (lab/fixtures.ts): where it cuts, what it
// removes, that weights stay in the files they came in, and how it refuses attention the kernel
// cannot compute, naming what it found.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto, { type onnx as OnnxTypes } from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { splitDecoder } from '../../src/engine/model/split/splitDecoder.ts';
import { EngineError } from '../../src/protocol/errors.ts';
import { ensureStories260kFixture, FIXTURE_STRUCTURES, type FixtureStructure } from '../../lab/fixtures.ts';

const { onnx } = onnxProto;
const EXTERNAL = onnx.TensorProto.DataLocation.EXTERNAL;

interface Fixture {
  model: Uint8Array;
  external: { path: string; data: Uint8Array }[];
}

async function fixture(structure: FixtureStructure): Promise<Fixture> {
  const dir = await ensureStories260kFixture(structure);
  const read = (name: string) => new Uint8Array(readFileSync(join(dir, name)));
  const external = readdirSync(dir).filter((n) => n.includes('.onnx_data')).sort().map((path) => ({ path, data: read(path) }));
  return { model: read('model.onnx'), external };
}

const entries = (t: OnnxTypes.ITensorProto) => Object.fromEntries((t.externalData ?? []).map((e) => [e.key, e.value]));

/** Bytes of an initializer of the original model, wherever it lives. */
function originalBytes(t: OnnxTypes.ITensorProto, external: Fixture['external']): Uint8Array {
  if (t.dataLocation !== EXTERNAL) return t.rawData!;
  const { location, offset, length } = entries(t);
  const file = external.find((f) => f.path === location)!;
  return file.data.subarray(Number(offset), Number(offset) + Number(length));
}

/** Ops that only attention uses in these exports (RoPE, mask, repeat-kv, head moves): none may survive in a segment. */
const ATTENTION_OPS = ['GroupQueryAttention', 'RotaryEmbedding', 'Softmax', 'Neg', 'Slice', 'Range', 'Where', 'LessOrEqual', 'Expand', 'Transpose'];

const GQA = { nHeads: 8, nKvHeads: 4, headSize: 16, rotaryPairs: 8, rotaryInterleaved: false };
const UNFUSED = { nHeads: 8, nKvHeads: 4, headSize: 8, rotaryPairs: 4, rotaryInterleaved: false };

/** The unfused export with `edit` applied to its graph. */
async function edited(edit: (graph: OnnxTypes.IGraphProto, node: (name: string) => OnnxTypes.INodeProto) => void): Promise<Uint8Array> {
  const decoded = onnx.ModelProto.decode((await fixture('unfused')).model);
  const graph = decoded.graph!;
  const node = (name: string) => graph.node!.find((n) => n.name === name)!;
  edit(graph, node);
  return onnx.ModelProto.encode(decoded).finish();
}

/** Inserts `extra` right before node `before`, and makes it read what `extra` produces. */
function insertBefore(graph: OnnxTypes.IGraphProto, before: OnnxTypes.INodeProto, extra: OnnxTypes.INodeProto): void {
  graph.node!.splice(graph.node!.indexOf(before), 0, onnx.NodeProto.create(extra));
  before.input![0] = extra.output![0];
}

function refusal(bytes: Uint8Array): EngineError {
  try {
    splitDecoder(bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(EngineError);
    expect((e as EngineError).code).toBe('MODEL_UNSUPPORTED');
    return e as EngineError;
  }
  throw new Error('the graph was accepted');
}

describe('splitDecoder on every exported structure', () => {
  for (const structure of Object.keys(FIXTURE_STRUCTURES) as FixtureStructure[]) {
    const unfused = structure.startsWith('unfused');
    it(`cuts ${structure} into 6 segments around 5 attention sites with no attention node left and every weight in place`, async () => {
      const { model, external } = await fixture(structure);
      const split = splitDecoder(model, external);
      expect(split.segments).toHaveLength(6);
      expect(split.sites).toHaveLength(5);
      expect(split.vocabSize).toBe(512);
      for (const site of split.sites) {
        expect(site).toMatchObject(unfused ? UNFUSED : GQA);
        expect(site.scale).toBeCloseTo(1 / Math.sqrt(8), 6);
      }

      // Mounted: the model bytes (embedded weights, constants) and every chunk, as the very same arrays.
      for (const f of external) expect(split.externalData.find((m) => m.path === f.path)?.data).toBe(f.data);
      const mounted = new Map(split.externalData.map((f) => [f.path, f.data]));

      const original = new Map((onnx.ModelProto.decode(model).graph!.initializer ?? []).map((t) => [t.name!, t]));
      let weightBytes = 0;
      split.segments.forEach((segment, i) => {
        const graph = onnx.ModelProto.decode(segment.model).graph!;
        const ops = (graph.node ?? []).map((n) => n.opType!);
        expect(ops.filter((op) => ATTENTION_OPS.includes(op)), `segment ${i}`).toEqual([]);
        const io = [...(graph.input ?? []), ...(graph.output ?? [])].map((v) => v.name ?? '');
        expect(io.filter((n) => /attention_mask|position_ids|past_key_values|present/.test(n))).toEqual([]);
        for (const t of graph.initializer ?? []) {
          if (t.dataLocation !== EXTERNAL) {
            // Only shape data stays inline (and the splitter's own merge-heads shape).
            expect(t.dataType, t.name!).toBe(onnx.TensorProto.DataType.INT64);
            continue;
          }
          const { location, offset, length } = entries(t);
          const data = mounted.get(location)!;
          expect(data, `${t.name} in ${location}`).toBeDefined();
          const bytes = data.subarray(Number(offset), Number(offset) + Number(length));
          expect(Buffer.compare(bytes, originalBytes(original.get(t.name!)!, external)), `bytes of ${t.name}`).toBe(0);
          weightBytes += bytes.byteLength;
        }
        expect(segment.model.byteLength).toBeLessThan(64 * 1024);
        // A view (Reshape and kin) writing an output runs as a copy, which a captured graph never replays.
        const producers = (graph.output ?? []).map((o) => graph.node!.find((n) => n.output?.includes(o.name!))?.opType);
        expect(producers.filter((op) => ['Reshape', 'Squeeze', 'Unsqueeze', 'Flatten', 'Identity'].includes(op!)), `segment ${i}`).toEqual([]);
        expect(segment.captureBlocker).toBeUndefined();
      });
      expect(weightBytes).toBeGreaterThan(structure === 'q4' ? 200_000 : 1_000_000);
    });
  }

  it('cuts q4 projections at MatMulNBits outputs, whose width is its N attribute', async () => {
    const { model } = await fixture('q4');
    const split = splitDecoder(model);
    expect(split.sites[0].q).toBe('/model/layers.0/attn/q_proj/MatMulNBits/output_0');
    expect(split.segments[0].outputs.map((t) => [t.name, t.width])).toContainEqual(['/model/layers.0/attn/k_proj/MatMulNBits/output_0', 64]);
    const ops = split.segments.flatMap((s) => onnx.ModelProto.decode(s.model).graph!.node!.map((n) => n.opType));
    expect(ops.filter((op) => op === 'MatMulNBits')).toHaveLength(5 * 7 + 1);
  });

  it('cuts unfused attention at the projections and at o_proj input, whatever the nodes are named', async () => {
    const { model } = await fixture('unfused');
    // Rename every node: recognition goes by structure, not by names.
    const decoded = onnx.ModelProto.decode(model);
    decoded.graph!.node!.forEach((n, i) => (n.name = `node_${i}`));
    const split = splitDecoder(onnx.ModelProto.encode(decoded).finish());
    expect(split.sites.map((s) => [s.q, s.k, s.v, s.out])[2]).toEqual([
      '/model/layers.2/self_attn/q_proj/MatMul/output_0',
      '/model/layers.2/self_attn/k_proj/MatMul/output_0',
      '/model/layers.2/self_attn/v_proj/MatMul/output_0',
      '/model/layers.2/self_attn/Reshape_3/output_0',
    ]);
  });

  it('cuts a per-head q/k norm after the norm and hands the kernel its heads as the norm wrote them', async () => {
    const { model } = await fixture('unfused-qk-norm');
    const split = splitDecoder(model);
    const site = split.sites[1];
    expect(site.q).toBe('/model/layers.1/self_attn/q_norm/SimplifiedLayerNormalization/output_0/merged_heads');
    const segment = split.segments[1];
    expect(segment.outputs.find((t) => t.name === site.k)).toMatchObject({ width: 32, tokenShape: [1, 1, 4, 8] });
    expect(segment.outputs.find((t) => t.name === site.q)).toMatchObject({ width: 64, tokenShape: [1, 1, 8, 8] });
    const ops = onnx.ModelProto.decode(segment.model).graph!.node!.map((n) => n.opType);
    expect(ops.filter((op) => op === 'SimplifiedLayerNormalization')).toHaveLength(2);
  });

  it('reads a constant scale on the scores, as eager attention writes it, instead of q and k scaled by a computed sqrt', async () => {
    const bytes = await edited((graph, node) => {
      const matmul = node('/model/layers.0/self_attn/MatMul');
      matmul.input = [node('/model/layers.0/self_attn/Mul').input![0], node('/model/layers.0/self_attn/Mul_1').input![0]];
      graph.initializer!.push(onnx.TensorProto.create({ name: 'sqrt_head_dim', dims: [], dataType: 1, floatData: [Math.sqrt(8)] }));
      insertBefore(graph, node('/model/layers.0/self_attn/Add'), {
        opType: 'Div', name: 'eager/Div', input: [matmul.output![0], 'sqrt_head_dim'], output: ['eager/Div/output_0'],
      });
    });
    const split = splitDecoder(bytes);
    expect(split.sites[0].scale).toBeCloseTo(1 / Math.sqrt(8), 6);
    expect(split.sites[1].scale).toBeCloseTo(1 / Math.sqrt(8), 6);
  });
});

describe('unfused attention the kernel cannot compute is refused, naming what was found', () => {
  it('refuses an ALiBi-style per-head bias added to the scores, naming the constant', async () => {
    const bytes = await edited((graph, node) => {
      graph.initializer!.push(onnx.TensorProto.create({ name: 'alibi_slopes', dims: [1, 8, 1, 1], dataType: 1, floatData: [1, 2, 3, 4, 5, 6, 7, 8].map((i) => -(2 ** -i)) }));
      insertBefore(graph, node('/model/layers.0/self_attn/Softmax'), {
        opType: 'Add', name: 'alibi/Add', input: ['/model/layers.0/self_attn/Add/output_0', 'alibi_slopes'], output: ['alibi/Add/output_0'],
      });
    });
    const error = refusal(bytes);
    expect(error.message).toContain('Attention layer 0');
    expect(error.message).toContain('"alibi_slopes" (8 values)');
    expect(error.message).toContain('ALiBi');
  });

  it('refuses soft-capped scores, naming the Tanh', async () => {
    const bytes = await edited((graph, node) => {
      insertBefore(graph, node('/model/layers.3/self_attn/Softmax'), {
        opType: 'Tanh', name: 'softcap/Tanh', input: ['/model/layers.3/self_attn/Add/output_0'], output: ['softcap/Tanh/output_0'],
      });
    });
    const error = refusal(bytes);
    expect(error.message).toContain('Attention layer 3');
    expect(error.message).toContain('Tanh "softcap/Tanh"');
  });

  it('refuses attention whose query is not rotated (absolute positions), saying RoPE is missing', async () => {
    const bytes = await edited((_graph, node) => {
      node('/model/layers.0/self_attn/MatMul').input![0] = '/model/layers.0/self_attn/Transpose/output_0';
    });
    expect(refusal(bytes).message).toContain('applies no rotary embedding to q and k');
  });

  it('refuses KV heads repeated in an order other than repeat_kv', async () => {
    const bytes = await edited((graph) => {
      graph.initializer!.push(onnx.TensorProto.create({ name: 'axis_1', dims: [1], dataType: 7, int64Data: [1] }));
      const unsqueeze = graph.node!.find((n) => n.name === '/model/layers.0/self_attn/repeat_kv_k/Unsqueeze')!;
      unsqueeze.input![1] = 'axis_1';
    });
    expect(refusal(bytes).message).toContain('repeats its KV heads in an order other than Hugging Face');
  });
});
