// onnxruntime (wasm) running a whole exported graph with its own attention: the reference the
// engine must match. Dense: a growing past_key_values. Past the cache, StreamingLLM itself: one
// token at a time, the past holding only V(t), each cached key un-rotated from the position it was
// computed at and re-rotated to its rank in V(t) with the graph's own cos/sin tables, so the new
// token sits at |V(t)| - 1 and every K and V is the one computed when its token was fed.

import { MS_DOMAIN, ModelProto } from '../../src/engine/model/split/graph.ts';
import { splitDecoder, type RotaryTables } from '../../src/engine/model/split/splitDecoder.ts';
import type { ModelFiles } from '../../src/engine/model/modelFiles.ts';
import { FullGraphSession, type LayerKv } from '../../src/engine/ort/segmentSessions.ts';

export type OracleMode = 'streaming' | 'window' | 'recompute';

/**
 * The graph onnxruntime's CPU runs as the engine computes: MatMulNBits at accuracy_level 1 (fp32
 * activations; level 4 lets native onnxruntime quantize activations to int8, ~0.1 nats off).
 */
function exactGraph(model: Uint8Array): Uint8Array {
  const proto = ModelProto.decode(model);
  for (const node of proto.graph?.node ?? []) {
    if (node.opType !== 'MatMulNBits' || node.domain !== MS_DOMAIN) continue;
    const level = (node.attribute ?? []).find((a) => a.name === 'accuracy_level');
    if (level) level.i = 1;
  }
  return ModelProto.encode(proto).finish();
}

export async function openOracle(files: ModelFiles): Promise<{ session: FullGraphSession; tables?: RotaryTables; interleaved: boolean; pairs: number }> {
  const split = splitDecoder(files.model, files.externalData);
  const site = split.sites[0];
  const session = await FullGraphSession.create(exactGraph(files.model), files.externalData, undefined, [site.nKvHeads, site.headSize]);
  return { session, tables: split.rotaryTables, interleaved: site.rotaryInterleaved, pairs: site.rotaryPairs };
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

/** V(t): the first S tokens, then the last W up to t (DESIGN: the visible set of token t). */
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

function negLogLikelihood(logits: Float32Array, offset: number, vocab: number, target: number): number {
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) max = Math.max(max, logits[offset + i]);
  let sum = 0;
  for (let i = 0; i < vocab; i++) sum += Math.exp(logits[offset + i] - max);
  return Math.log(sum) + max - logits[offset + target];
}

/**
 * Per-token NLL of ids[t + 1] after ids[0..t] under StreamingLLM (sinks S, window W; window mode:
 * S = 0) or sliding-window recomputation, computed by onnxruntime on the whole graph.
 */
export async function oracleStreamNll(files: ModelFiles, ids: number[], mode: OracleMode, sinks: number, window: number): Promise<number[]> {
  const { session, tables, interleaved, pairs } = await openOracle(files);
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
    for (let t = 0; t + 1 < ids.length; t++) {
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
      const { logits, present } = await session.step([ids[t]], layers, past.length);
      present.forEach((kv, layer) => {
        const key = tokenRow(kv.key, past.length + 1, past.length, kvHeads, headSize);
        rotate(key, tables, past.length, pairs, headSize, interleaved, true);
        rawKeys[layer][t] = key;
        values[layer][t] = tokenRow(kv.value, past.length + 1, past.length, kvHeads, headSize);
      });
      nll.push(negLogLikelihood(logits, 0, logits.length, ids[t + 1]));
    }
    return nll;
  } finally {
    await session.release();
  }
}
