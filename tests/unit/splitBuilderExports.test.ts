// The splitter and the RoPE check on the files the hub ships (onnxruntime-genai builder exports in
// tests/fixtures/builder-exports): every form splits into L+1 segments with the kernel's inputs
// where the graph computes them; what the kernel cannot compute, or a config that disagrees with
// the graph, is refused with a sentence naming it.

import onnxProto, { type onnx } from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { modelRotary } from '../../src/engine/model/rotary.ts';
import { splitDecoder, type SplitDecoder } from '../../src/engine/model/split/splitDecoder.ts';
import type { ModelFiles } from '../../src/engine/model/modelFiles.ts';
import { loadModelFolder } from '../../lab/reference/modelFolder.ts';
import { errorOf } from './errorOf.ts';

const { ModelProto } = onnxProto.onnx;
const ROOT = new URL('../fixtures/builder-exports/', import.meta.url).pathname;

const load = (folder: string, onnxFile?: string) => loadModelFolder(`${ROOT}${folder}`, onnxFile);
const split = (files: ModelFiles) => splitDecoder(files.model, files.externalData);

/** The ops of each segment graph. */
function segmentOps(s: SplitDecoder): string[][] {
  return s.segments.map((segment) => (ModelProto.decode(segment.model).graph?.node ?? []).map((n) => n.opType ?? ''));
}

/** The model with `edit` applied to its decoded graph (weights stay in the external data files). */
function edited(files: ModelFiles, edit: (graph: onnx.IGraphProto) => void): ModelFiles {
  const model = ModelProto.decode(files.model);
  edit(model.graph!);
  return { ...files, model: ModelProto.encode(model).finish() };
}

const gqaNodes = (graph: onnx.IGraphProto) => (graph.node ?? []).filter((n) => n.opType === 'GroupQueryAttention');

const segmentGraph = (s: SplitDecoder, index: number) => ModelProto.decode(s.segments[index].model).graph!;
const producerOf = (graph: onnx.IGraphProto, tensor: string) => (graph.node ?? []).find((n) => n.output?.includes(tensor));

/** The per-head norm that computes `tensor` (Reshape, SimplifiedLayerNormalization): its weight and what it normalises. */
function headNorm(graph: onnx.IGraphProto, tensor: string): { weight: string; of: string } {
  // No Reshape back after the norm: as a segment output it would be a copy a captured graph never replays.
  const norm = producerOf(graph, tensor);
  expect(norm?.opType, `producer of ${tensor}`).toBe('SimplifiedLayerNormalization');
  const heads = producerOf(graph, norm!.input![0]);
  expect(heads?.opType, `producer of ${norm!.input![0]}`).toBe('Reshape');
  return { weight: norm!.input![1], of: heads!.input![0] };
}

describe('builder exports split at their attention sites', { timeout: 60_000 }, () => {
  it('packed QKV with bias (Qwen2 q4): the bias Add stays in the segment and a Split hands the kernel q, k and v, in that order', async () => {
    const s = split(await load('tiny-qwen2', 'onnx/model_q4.onnx'));
    expect(s.segments).toHaveLength(3);
    expect(s.sites.map((site) => [site.nHeads, site.nKvHeads, site.headSize, site.rotaryPairs])).toEqual([[4, 2, 16, 8], [4, 2, 16, 8]]);
    const ops = segmentOps(s);
    expect(ops[0]).toEqual(expect.arrayContaining(['GatherBlockQuantized', 'MatMulNBits', 'Add', 'Split']));
    expect(ops.flat()).not.toContain('GroupQueryAttention');
    // The Split reads the biased projection: dropping the bias would feed the kernel the raw MatMul.
    const graph = ModelProto.decode(s.segments[0].model).graph!;
    const splitNode = graph.node!.find((n) => n.opType === 'Split')!;
    const producer = graph.node!.find((n) => n.output?.includes(splitNode.input![0]))!;
    expect(producer.opType).toBe('Add');
    expect(producer.input).toContain('model.layers.0.attn.qkv_proj.Add.bias');
    expect(s.segments[0].outputs.map((t) => [t.name, t.width])).toEqual(expect.arrayContaining([[s.sites[0].q, 64], [s.sites[0].k, 32], [s.sites[0].v, 32]]));
    // In every layer the Split's outputs, in order, are the kernel's q, k and v, cut at 4 + 2 + 2 heads of 16.
    s.sites.forEach((site, layer) => {
      const g = segmentGraph(s, layer);
      const qkv = g.node!.find((n) => n.opType === 'Split')!;
      expect(qkv.output, `layer ${layer}`).toEqual([site.q, site.k, site.v]);
      expect(producerOf(g, qkv.input![0])!.input).toContain(`model.layers.${layer}.attn.qkv_proj.Add.bias`);
      const sizes = g.initializer!.find((t) => t.name === qkv.input![1])!;
      expect((sizes.int64Data ?? []).map(Number), `layer ${layer}`).toEqual([64, 32, 32]);
    });
    // Every MatMulNBits runs with float activations.
    for (const segment of s.segments) {
      for (const node of ModelProto.decode(segment.model).graph!.node!.filter((n) => n.opType === 'MatMulNBits')) {
        expect(Number(node.attribute!.find((a) => a.name === 'accuracy_level')!.i)).toBe(1);
      }
    }
  });

  it('Qwen3 q/k norms fused into GroupQueryAttention become a Reshape and a SimplifiedLayerNormalization written per head in the segment, each with its own weight, as the unfused file has them', async () => {
    const fused = split(await load('tiny-qwen3', 'onnx/model_q4f16_fusedqk.onnx'));
    const plain = split(await load('tiny-qwen3', 'onnx/model_q4f16.onnx'));
    const norms = (s: SplitDecoder) => segmentOps(s).map((ops) => ops.filter((op) => op === 'SimplifiedLayerNormalization').length);
    // Per layer a q norm and a k norm; segment 0 also holds the first input norm.
    expect(norms(fused)).toEqual([3, 2, 0]);
    expect(norms(plain)).toEqual([3, 2, 0]);
    // Each norm reads its own weight and the head it belongs to: q_norm the Split's first output
    // (q), k_norm its second (k); v, its third, goes to the kernel as it is. Both files alike.
    for (const s of [fused, plain]) {
      s.sites.forEach((site, layer) => {
        const g = segmentGraph(s, layer);
        const qkv = `/model/layers.${layer}/attn/qkv_proj/Split/output_`;
        expect(headNorm(g, site.q), `layer ${layer} q`).toEqual({ weight: `model.layers.${layer}.attn.q_norm.layernorm.weight`, of: `${qkv}0` });
        expect(headNorm(g, site.k), `layer ${layer} k`).toEqual({ weight: `model.layers.${layer}.attn.k_norm.layernorm.weight`, of: `${qkv}1` });
        expect(site.v, `layer ${layer} v`).toBe(`${qkv}2`);
      });
      expect(s.segments.map((segment) => segment.captureBlocker)).toEqual([undefined, undefined, undefined]);
    }
    // Each written in the shape its norm computes: the builder's (batch, seq * heads, headDim), the
    // splitter's own (batch, seq, heads, headDim); the bytes are the kernel's [seq, heads * headDim].
    const tokenShape = (s: SplitDecoder, name: string) => s.segments[1].outputs.find((t) => t.name === name)?.tokenShape;
    expect([tokenShape(plain, plain.sites[1].q), tokenShape(plain, plain.sites[1].k)]).toEqual([[1, 4, 16], [1, 2, 16]]);
    expect([tokenShape(fused, fused.sites[1].q), tokenShape(fused, fused.sites[1].k)]).toEqual([[1, 1, 4, 16], [1, 1, 2, 16]]);
    expect(tokenShape(plain, plain.sites[1].v)).toBeUndefined();
    expect(fused.dtype).toBe('float16');
    expect(fused.vocabSize).toBe(151936);
  });

  it('keeps a per-head view whose shape it cannot read, and marks its segment as one a captured graph would not replay', async () => {
    const files = await load('tiny-qwen3', 'onnx/model_q4f16.onnx');
    // The same shape as a Concat of two constants instead of one constant: valid, equal, unread.
    const s = split(edited(files, (g) => {
      const reshape = g.node!.find((n) => n.name === '/model/layers.0/attn/q_norm/Reshape_1')!;
      g.initializer!.push({ name: 'head', dims: [2], dataType: 7, int64Data: [0, -1] }, { name: 'dim', dims: [1], dataType: 7, int64Data: [16] });
      g.node!.splice(g.node!.indexOf(reshape), 0, { opType: 'Concat', name: 'shape', input: ['head', 'dim'], output: ['shape'], attribute: [{ name: 'axis', type: 2, i: 0 }] });
      reshape.input![1] = 'shape';
    }));
    expect(s.segments[0].captureBlocker).toMatch(/"\/model\/layers\.0\/attn\/q_norm\/Reshape_2\/output_0" is written by Reshape "\/model\/layers\.0\/attn\/q_norm\/Reshape_2", a copy that a captured graph does not replay/);
    expect(producerOf(segmentGraph(s, 0), s.sites[0].q)?.opType).toBe('Reshape');
    expect(s.segments[1].captureBlocker).toBeUndefined();
  });

  it('MultiHeadAttention fed by RotaryEmbedding nodes (published fp16): rotary nodes and position_ids leave with the attention', async () => {
    const s = split(await load('published/genai-tiny-llama-fp16'));
    expect(s.sites.map((site) => [site.nHeads, site.nKvHeads, site.headSize])).toEqual([[1, 1, 16], [1, 1, 16]]);
    expect(segmentOps(s).flat()).not.toEqual(expect.arrayContaining(['RotaryEmbedding']));
    expect(segmentOps(s).flat()).not.toContain('MultiHeadAttention');
    expect(s.segments.flatMap((segment) => segment.inputs.map((t) => t.name))).not.toContain('position_ids');
  });

  it('refuses attention the kernel does not compute, naming the attribute or input', async () => {
    const files = await load('tiny-qwen2', 'onnx/model_q4.onnx');
    const softcap = errorOf(() => split(edited(files, (g) => gqaNodes(g)[0].attribute!.find((a) => a.name === 'softcap')!.f = 30)));
    expect(softcap.code).toBe('MODEL_UNSUPPORTED');
    expect(softcap.message).toMatch(/Attention layer 0 \(\/model\/layers\.0\/attn\/GroupQueryAttention\) uses logit soft-capping/);
    const window = errorOf(() => split(edited(files, (g) => gqaNodes(g)[1].attribute!.push({ name: 'local_window_size', type: 2, i: 128 }))));
    expect(window.message).toMatch(/Attention layer 1 .* has its own sliding window/);
    const sinks = errorOf(() => split(edited(files, (g) => {
      g.node![g.node!.indexOf(gqaNodes(g)[0])].input![11] = 'model.layers.0.input_layernorm.weight';
    })));
    expect(sinks.message).toMatch(/uses per-head attention sinks \(input 11, "model\.layers\.0\.input_layernorm\.weight"\), which the attention kernel does not implement/);
  });
});

describe('RoPE from config.json, checked against the graph', { timeout: 60_000 }, () => {
  it('reads transformers 5 rope_parameters (tiny-qwen3: theta 1e6) and transformers 4 rope_theta alike', async () => {
    const files = await load('tiny-qwen3', 'onnx/model_q4f16.onnx');
    const s = split(files);
    expect(files.config.rope_theta).toBeUndefined();
    expect(modelRotary(files.config, s)).toEqual({ theta: 1e6, rotaryDim: 16, scaling: undefined });
    expect(modelRotary({ ...files.config, rope_parameters: undefined, rope_theta: 1e6 }, s).theta).toBe(1e6);
  });

  it('refuses a config whose theta the graph does not bear out, saying where they part', async () => {
    const files = await load('tiny-qwen2', 'onnx/model_q4.onnx');
    const s = split(files);
    const error = errorOf(() => modelRotary({ ...files.config, rope_theta: 10000 }, s));
    expect(error.code).toBe('MODEL_UNSUPPORTED');
    expect(error.message).toMatch(/config\.json and its ONNX graph disagree on the rotary embedding \(config: theta 10000; at position \d+, pair \d+ rotates by frequency/);
    const scaled = errorOf(() => modelRotary({ ...files.config, rope_scaling: { rope_type: 'linear', factor: 4 } }, s));
    expect(scaled.message).toMatch(/linear scaling/);
    expect(errorOf(() => modelRotary({ ...files.config, rope_scaling: { rope_type: 'yarn', factor: 4 } }, s)).message).toMatch(/"yarn" RoPE scaling/);
  });

  it('fits theta from the graph where only genai_config.json is given (published: theta 10000)', async () => {
    const files = await load('published/genai-tiny-llama-fp32-gqa');
    const rotary = modelRotary(files.config, split(files));
    expect(rotary.rotaryDim).toBe(16);
    expect(Math.abs(rotary.theta - 10000) / 10000).toBeLessThan(1e-4);
  });
});
