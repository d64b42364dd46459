import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { planBuffers } from '../../src/engine/decoder/bufferPlan.ts';
import { splitGraph } from '../../src/engine/split/splitGraph.ts';
import { ensureStories260kFixture } from '../../lab/fixtures.ts';

const { onnx } = onnxProto;

async function fixture(variant: 'fused' | 'separate') {
  return new Uint8Array(readFileSync(join(await ensureStories260kFixture(variant), 'model.onnx')));
}

describe('splitGraph', () => {
  for (const variant of ['fused', 'separate'] as const) {
    it(`cuts the ${variant}-rotary stories260K export into 6 segments around 5 attention sites`, async () => {
      const bytes = await fixture(variant);
      const split = splitGraph(bytes);
      expect(split.segments).toHaveLength(6);
      expect(split.sites).toHaveLength(5);
      expect(split.vocabSize).toBe(512);
      expect(split.dtype).toBe('float32');
      for (const site of split.sites) {
        expect(site).toMatchObject({ nHeads: 8, nKvHeads: 4, headSize: 16, rotaryPairs: 8, rotaryInterleaved: false });
        expect(site.scale).toBeCloseTo(1 / Math.sqrt(8), 6);
      }
      expect(split.segments[0].inputs.map((t) => t.name)).toEqual(['input_ids']);
      expect(split.segments[5].outputs.map((t) => t.name)).toContain('logits');
      split.segments.slice(0, 5).forEach((segment, i) => {
        const names = segment.outputs.map((t) => t.name);
        for (const t of [split.sites[i].q, split.sites[i].k, split.sites[i].v]) expect(names).toContain(t);
        if (i > 0) expect(segment.inputs.map((t) => t.name)).toContain(split.sites[i - 1].out);
      });
    });
  }

  it('drops positions, masks, past/present KV and rotary nodes, and references weights in place', async () => {
    const bytes = await fixture('separate');
    const split = splitGraph(bytes);
    expect(split.externalData).toHaveLength(1);
    expect(split.externalData[0].data).toBe(bytes); // the very same array, not a copy
    let referenced = 0;
    for (const segment of split.segments) {
      const model = onnx.ModelProto.decode(segment.model);
      const graph = model.graph!;
      const ops = (graph.node ?? []).map((n) => n.opType);
      expect(ops).not.toContain('GroupQueryAttention');
      expect(ops).not.toContain('RotaryEmbedding');
      const io = [...(graph.input ?? []), ...(graph.output ?? [])].map((v) => v.name ?? '');
      expect(io.filter((n) => /attention_mask|position_ids|past_key_values|present/.test(n))).toEqual([]);
      for (const t of graph.initializer ?? []) {
        if (t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) continue;
        const entry = Object.fromEntries((t.externalData ?? []).map((e) => [e.key, e.value]));
        const offset = Number(entry.offset);
        const length = Number(entry.length);
        expect(offset + length).toBeLessThanOrEqual(bytes.byteLength);
        referenced += length;
      }
      // Segments are graph-only: far smaller than the weights they use.
      expect(segment.model.byteLength).toBeLessThan(64 * 1024);
    }
    expect(referenced).toBeGreaterThan(1_000_000);
  });

  it('refuses a graph without GroupQueryAttention and names the ops it found', () => {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: 'unfused',
        node: [
          { opType: 'MatMul', input: ['x', 'w'], output: ['s'] },
          { opType: 'Softmax', input: ['s'], output: ['logits'] },
        ],
        input: [{ name: 'x', type: { tensorType: { elemType: 1 } } }],
        output: [{ name: 'logits', type: { tensorType: { elemType: 1 } } }],
        initializer: [{ name: 'w', dims: [2, 2], dataType: 1, floatData: [1, 0, 0, 1] }],
      },
    });
    const bytes = onnx.ModelProto.encode(model).finish();
    expect(() => splitGraph(bytes)).toThrow(expect.objectContaining({ code: 'MODEL_UNSUPPORTED', detail: 'ops found: MatMul, Softmax' }));
  });

  it('refuses bytes that are not an ONNX model', () => {
    expect(() => splitGraph(new Uint8Array([0xff, 0xff, 0xff, 0x01, 0x02]))).toThrow(expect.objectContaining({ code: 'MODEL_CORRUPT' }));
  });
});

describe('planBuffers', () => {
  it('never lets two tensors that are alive at the same stage share a buffer', async () => {
    const split = splitGraph(await fixture('fused'));
    const plan = planBuffers(split);
    // Stages: segment i = 2i, attention i = 2i + 1, logits readback = 2L + 1.
    const life = new Map<string, [number, number]>();
    const born = (name: string, stage: number) => life.set(name, [stage, stage]);
    const read = (name: string, stage: number) => life.get(name)![1] = Math.max(life.get(name)![1], stage);
    split.segments.forEach((segment, i) => {
      for (const t of segment.inputs) if (t.dtype !== 'int64') read(t.name, 2 * i);
      for (const t of segment.outputs) born(t.name, 2 * i);
      const site = split.sites[i];
      if (site) {
        for (const t of [site.q, site.k, site.v]) read(t, 2 * i + 1);
        born(site.out, 2 * i + 1);
      }
    });
    read('logits', 2 * split.sites.length + 1);
    const names = [...life.keys()];
    for (const a of names) {
      for (const b of names) {
        if (a >= b || plan.slotOf.get(a) !== plan.slotOf.get(b)) continue;
        const [[a0, a1], [b0, b1]] = [life.get(a)!, life.get(b)!];
        expect(a1 < b0 || b1 < a0, `${a} [${a0}, ${a1}] and ${b} [${b0}, ${b1}] share slot ${plan.slotOf.get(a)}`).toBe(true);
      }
    }
    // Reuse happens: far fewer buffers than tensors.
    expect(plan.slotWidths.length).toBeLessThan(names.length / 2);
  });
});
