// onnxruntime (wasm, in Node) running a whole exported graph with its own attention: the reference
// the engine must match. It runs onnxruntime-web's plain CPU build, which has every com.microsoft
// op these graphs use (the WebGPU bundle's CPU lacks GatherBlockQuantized), and the widened f32
// graph where the file is fp16, as the engine runs it without shader-f16. Dense: a growing
// past_key_values. Past the cache, StreamingLLM itself: one token at a time, the past holding only
// V(t), each cached key un-rotated from the position it was computed at and re-rotated to its rank
// in V(t) with the graph's own cos/sin tables, so the new token sits at |V(t)| - 1 and every K and
// V is the one computed when its token was fed.

import * as ort from 'onnxruntime-web';
import onnxProto, { type onnx } from 'onnx-proto';
import type { RotaryConfig } from '../../src/engine/split/rotary.ts';
import { inverseFrequencies } from '../../src/engine/kernels/rope.ts';
import { ModelProto, useFloatActivations } from '../../src/engine/split/graph.ts';
import { decoderInputs, floats } from '../ort/tensorData.ts';
import { modelRotary } from '../../src/engine/split/rotary.ts';
import { splitGraph, type RotaryTables, type SplitGraph } from '../../src/engine/split/splitGraph.ts';
import { usesFloat16, widenFloat16 } from '../../src/engine/split/widenFloat16.ts';
import type { ModelFiles } from '../../src/engine/files/modelFiles.ts';
import { negLogLikelihood } from '../../src/engine/eval/score.ts';

ort.env.wasm.numThreads = 1;

/** Past keys and values of one layer as [1, kvHeads, length, headSize] float32 arrays. */
interface LayerKv {
  key: Float32Array;
  value: Float32Array;
}

/** The whole graph on onnxruntime's CPU, fed an explicit past each call. Inputs bound by name. */
class OracleSession {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly nLayers: number,
    readonly kvShape: [number, number],
  ) {}

  static async create(model: Uint8Array, externalData: ModelFiles['externalData'], kvShape: [number, number]): Promise<OracleSession> {
    const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'], externalData });
    const nLayers = session.inputNames.filter((n) => /^past_key_values\.\d+\.key$/.test(n)).length;
    return new OracleSession(session, nLayers, kvShape);
  }

  /** Logits [n, vocab] and every layer's present (past + ids) for `ids` fed after `past`. */
  async step(ids: number[], past: LayerKv[], pastLength: number): Promise<{ logits: Float32Array; present: LayerKv[] }> {
    const [kvHeads, headSize] = this.kvShape;
    const feeds = decoderInputs(ort.Tensor, this.session.inputNames, ids, pastLength);
    for (let layer = 0; layer < this.nLayers; layer++) {
      for (const kind of ['key', 'value'] as const) {
        const data = past[layer]?.[kind] ?? new Float32Array(0);
        feeds[`past_key_values.${layer}.${kind}`] = new ort.Tensor('float32', data, [1, kvHeads, pastLength, headSize]);
      }
    }
    const out = await this.session.run(feeds);
    const present = Array.from({ length: this.nLayers }, (_, layer) => ({
      key: out[`present.${layer}.key`].data as Float32Array,
      value: out[`present.${layer}.value`].data as Float32Array,
    }));
    return { logits: floats(out.logits.data), present };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

export type OracleMode = 'streaming' | 'window' | 'recompute';

export interface OracleOptions {
  /**
   * Replace the graph's cos/sin tables by the model's RoPE computed in float64 (what the kernel
   * rotates with), so an fp16 file's rounded tables drop out of the comparison.
   */
  exactRotaryTables?: boolean;
}

async function openOracle(files: ModelFiles, options: OracleOptions = {}): Promise<{ session: OracleSession; tables?: RotaryTables; interleaved: boolean; pairs: number }> {
  const graph = usesFloat16(files.model) ? widenFloat16(files) : files;
  const split = splitGraph(graph.model, graph.externalData);
  const site = split.sites[0];
  const proto = ModelProto.decode(graph.model);
  useFloatActivations(proto.graph?.node ?? []);
  const tables = options.exactRotaryTables ? exactTables(proto, split, modelRotary(files.config, split)) : split.rotaryTables;
  const session = await OracleSession.create(ModelProto.encode(proto).finish(), graph.externalData, [site.nKvHeads, site.headSize]);
  return { session, tables, interleaved: site.rotaryInterleaved, pairs: site.rotaryPairs };
}

/** Rewrites every site's cos/sin initializers as float32 cos/sin of position x frequency, computed in float64. */
function exactTables(proto: onnx.ModelProto, split: SplitGraph, rotary: RotaryConfig): RotaryTables | undefined {
  let written: RotaryTables | undefined;
  const site = split.sites[0];
  const invFreq = inverseFrequencies({ theta: rotary.theta, rotaryDim: 2 * site.rotaryPairs, layout: 'half', scaling: rotary.scaling, frequencyDim: rotary.rotaryDim });
  const names = new Map(split.sites.flatMap((s) => (s.rotaryTables ? [[s.rotaryTables.cos, Math.cos], [s.rotaryTables.sin, Math.sin]] as const : [])));
  for (const tensor of proto.graph?.initializer ?? []) {
    const f = names.get(tensor.name ?? '');
    if (!f) continue;
    const [rows, pairs] = (tensor.dims ?? []).map(Number);
    const values = Float32Array.from({ length: rows * pairs }, (_, i) => f(Math.floor(i / pairs) * invFreq[i % pairs]));
    tensor.rawData = new Uint8Array(values.buffer);
    tensor.dataType = onnxProto.onnx.TensorProto.DataType.FLOAT;
    tensor.dataLocation = onnxProto.onnx.TensorProto.DataLocation.DEFAULT;
    tensor.externalData = [];
    if (f === Math.cos) written = { rows, pairs, cos: values, sin: written?.sin ?? new Float32Array(0) };
    else written = { rows, pairs, cos: written?.cos ?? new Float32Array(0), sin: values };
  }
  return written;
}

/** Logits [n, vocab] per chunk, the chunks fed one after another with a growing past (dense attention). */
export async function oracleLogits(files: ModelFiles, chunks: number[][], options: OracleOptions = {}): Promise<Float32Array[]> {
  const { session } = await openOracle(files, options);
  const out: Float32Array[] = [];
  let past: LayerKv[] = [];
  let length = 0;
  try {
    for (const ids of chunks) {
      const step = await session.step(ids, past, length);
      out.push(step.logits);
      past = step.present;
      length += ids.length;
    }
  } finally {
    await session.release();
  }
  return out;
}

/** Rotates (or with `inverse`, un-rotates exactly) every head of one token's key in place. */
function rotate(key: Float32Array, tables: RotaryTables, position: number, pairs: number, headSize: number, interleaved: boolean, inverse: boolean): void {
  if (position >= tables.rows) throw new Error(`the oracle's rotary tables end at ${tables.rows} positions`);
  for (let head = 0; head < key.length / headSize; head++) {
    const base = head * headSize;
    for (let p = 0; p < pairs; p++) {
      let c = tables.cos[position * tables.pairs + p];
      let s = tables.sin[position * tables.pairs + p];
      if (inverse) {
        // The inverse of [[c, -s], [s, c]] even where fp16 tables make c² + s² differ from 1.
        const norm = c * c + s * s;
        [c, s] = [c / norm, -s / norm];
      }
      const [i, j] = interleaved ? [base + 2 * p, base + 2 * p + 1] : [base + p, base + p + pairs];
      const [a, b] = [key[i], key[j]];
      key[i] = a * c - b * s;
      key[j] = b * c + a * s;
    }
  }
}

/** V(t): the first S tokens, then the last W up to t (docs/architecture.md section 1). */
function visibleTokens(t: number, sinks: number, window: number): number[] {
  const out: number[] = [];
  for (let j = 0; j < Math.min(sinks, t + 1); j++) out.push(j);
  for (let j = Math.max(sinks, t - window + 1); j <= t; j++) out.push(j);
  return out;
}

/** Row `row` of a [1, kvHeads, length, headSize] tensor, heads concatenated. */
function tokenRow(data: Float32Array, length: number, row: number, kvHeads: number, headSize: number): Float32Array {
  const out = new Float32Array(kvHeads * headSize);
  for (let h = 0; h < kvHeads; h++) out.set(data.subarray((h * length + row) * headSize, (h * length + row + 1) * headSize), h * headSize);
  return out;
}

/**
 * Per-token NLL of ids[t + 1] after ids[0..t] under StreamingLLM (sinks S, window W; window mode:
 * S = 0) or sliding-window recomputation, computed by onnxruntime on the whole graph.
 */
export async function oracleStreamNll(files: ModelFiles, ids: number[], mode: OracleMode, sinks: number, window: number, options: OracleOptions = {}): Promise<number[]> {
  const { session, tables, interleaved, pairs } = await openOracle(files, options);
  const [kvHeads, headSize] = session.kvShape;
  const nll: number[] = [];
  try {
    const visible = (t: number) => visibleTokens(t, mode === 'window' ? 0 : sinks, window);
    if (mode === 'recompute') {
      for (let t = 0; t + 1 < ids.length; t++) {
        const tokens = visible(t);
        const empty = Array.from({ length: session.nLayers }, () => ({ key: new Float32Array(0), value: new Float32Array(0) }));
        const { logits } = await session.step(tokens.map((j) => ids[j]), empty, 0);
        const vocab = logits.length / tokens.length;
        nll.push(negLogLikelihood(logits, (tokens.length - 1) * vocab, vocab, ids[t + 1]));
      }
      return nll;
    }
    if (!tables) throw new Error('the graph has no rotary tables to re-rotate its keys with');
    // Per layer, per token: the key before rotation and the value, as computed when it was fed.
    const rawKeys: Float32Array[][] = Array.from({ length: session.nLayers }, () => []);
    const values: Float32Array[][] = Array.from({ length: session.nLayers }, () => []);
    const width = kvHeads * headSize;
    // Tokens 0 and 1 go in together, each seeing both while they are visible as in dense attention:
    // the older genai graphs' mask subgraph cannot take one token with an empty past.
    for (let t = 0; t + 1 < ids.length; t += t === 0 ? 2 : 1) {
      const fed = t === 0 ? ids.slice(0, Math.min(2, ids.length - 1)) : [ids[t]];
      const past = visible(t).slice(0, -1);
      const layers: LayerKv[] = rawKeys.map((keys, layer) => {
        const key = new Float32Array(past.length * width);
        const value = new Float32Array(past.length * width);
        past.forEach((j, rank) => {
          const rotated = keys[j].slice();
          rotate(rotated, tables, rank, pairs, headSize, interleaved, false);
          for (let h = 0; h < kvHeads; h++) {
            key.set(rotated.subarray(h * headSize, (h + 1) * headSize), (h * past.length + rank) * headSize);
            value.set(values[layer][j].subarray(h * headSize, (h + 1) * headSize), (h * past.length + rank) * headSize);
          }
        });
        return { key, value };
      });
      const { logits, present } = await session.step(fed, layers, past.length);
      const total = past.length + fed.length;
      const vocab = logits.length / fed.length;
      fed.forEach((_, i) => {
        const position = past.length + i;
        present.forEach((kv, layer) => {
          const key = tokenRow(kv.key, total, position, kvHeads, headSize);
          rotate(key, tables, position, pairs, headSize, interleaved, true);
          rawKeys[layer][t + i] = key;
          values[layer][t + i] = tokenRow(kv.value, total, position, kvHeads, headSize);
        });
        nll.push(negLogLikelihood(logits, i * vocab, vocab, ids[t + i + 1]));
      });
    }
    return nll;
  } finally {
    await session.release();
  }
}
