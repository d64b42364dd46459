// CPU float64 reference of a llama2.c model under docs/architecture.md section 1, written for the tests and
// independently of the exporter and the engine: it reads the llama2.c checkpoint itself, keeps
// llama2.c's interleaved RoPE and head size, and uses the float64 attention reference.

import { referenceAttention, type ReferenceMode, type ReferenceSpec } from './attention.ts';

interface Weights {
  dim: number;
  hidden: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocab: number;
  headSize: number;
  embedding: Float64Array; // [vocab, dim]
  rmsAtt: Float64Array[]; // [layer][dim]
  wq: Float64Array[]; // [layer][dim * dim], (out, in)
  wk: Float64Array[]; // [layer][kvDim * dim]
  wv: Float64Array[];
  wo: Float64Array[]; // [layer][dim * dim]
  rmsFfn: Float64Array[];
  w1: Float64Array[]; // [layer][hidden * dim]
  w2: Float64Array[]; // [layer][dim * hidden]
  w3: Float64Array[];
  rmsFinal: Float64Array;
  classifier: Float64Array; // [vocab, dim]
}

export function readCheckpoint(bytes: Uint8Array): Weights {
  const header = new Int32Array(bytes.buffer, bytes.byteOffset, 7);
  const [dim, hidden, nLayers, nHeads, nKvHeads, signedVocab, seqLen] = header;
  const vocab = Math.abs(signedVocab);
  const headSize = dim / nHeads;
  const kvDim = nKvHeads * headSize;
  const floats = new Float32Array(bytes.buffer.slice(bytes.byteOffset + 28, bytes.byteOffset + bytes.byteLength));
  let at = 0;
  const take = (n: number) => Float64Array.from(floats.subarray(at, (at += n)));
  const perLayer = (n: number) => Array.from({ length: nLayers }, () => take(n));
  const embedding = take(vocab * dim);
  const rmsAtt = perLayer(dim);
  const wq = perLayer(dim * dim);
  const wk = perLayer(kvDim * dim);
  const wv = perLayer(kvDim * dim);
  const wo = perLayer(dim * dim);
  const rmsFfn = perLayer(dim);
  const w1 = perLayer(hidden * dim);
  const w2 = perLayer(dim * hidden);
  const w3 = perLayer(hidden * dim);
  const rmsFinal = take(dim);
  at += seqLen * headSize; // legacy RoPE tables, unused
  const classifier = signedVocab > 0 ? embedding : take(vocab * dim);
  return { dim, hidden, nLayers, nHeads, nKvHeads, vocab, headSize, embedding, rmsAtt, wq, wk, wv, wo, rmsFfn, w1, w2, w3, rmsFinal, classifier };
}

function rmsnorm(x: Float64Array, w: Float64Array): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const inv = 1 / Math.sqrt(ss / x.length + 1e-5);
  return x.map((v, i) => v * inv * w[i]);
}

/** y = W x for W stored (out, in) row-major. */
function matvec(w: Float64Array, x: Float64Array, out: number): Float64Array {
  const n = x.length;
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += w[o * n + i] * x[i];
    y[o] = s;
  }
  return y;
}

export interface ReferenceCache {
  mode: ReferenceMode;
  nSinks: number;
  windowSize: number;
}

/** One token stream through the model; logits come back in float64. */
export class ReferenceLlama {
  private readonly keys: Float64Array[][]; // [layer][t] raw (pre-RoPE) keys
  private readonly values: Float64Array[][];
  private readonly queries: Float64Array[][];
  private readonly spec: ReferenceSpec;
  length = 0;

  constructor(
    private readonly w: Weights,
    cache: ReferenceCache,
  ) {
    this.keys = Array.from({ length: w.nLayers }, () => []);
    this.values = Array.from({ length: w.nLayers }, () => []);
    this.queries = Array.from({ length: w.nLayers }, () => []);
    this.spec = {
      nHeads: w.nHeads,
      nKvHeads: w.nKvHeads,
      headDim: w.headSize,
      mode: cache.mode,
      nSinks: cache.nSinks,
      windowSize: cache.windowSize,
      rope: { theta: 10000, rotaryDim: w.headSize, layout: 'interleaved' },
    };
  }

  /** Feeds one token; returns the logits for the next one. */
  step(token: number): Float64Array {
    const w = this.w;
    const t = this.length++;
    const kvDim = w.nKvHeads * w.headSize;
    let x = w.embedding.slice(token * w.dim, (token + 1) * w.dim);
    for (let l = 0; l < w.nLayers; l++) {
      const xb = rmsnorm(x, w.rmsAtt[l]);
      this.queries[l][t] = matvec(w.wq[l], xb, w.dim);
      this.keys[l][t] = matvec(w.wk[l], xb, kvDim);
      this.values[l][t] = matvec(w.wv[l], xb, kvDim);
      const att = referenceAttention(this.spec, { q: (j) => this.queries[l][j], k: (j) => this.keys[l][j], v: (j) => this.values[l][j] }, t);
      const o = matvec(w.wo[l], att, w.dim);
      x = x.map((v, i) => v + o[i]);
      const hb = rmsnorm(x, w.rmsFfn[l]);
      const gate = matvec(w.w1[l], hb, w.hidden);
      const up = matvec(w.w3[l], hb, w.hidden);
      // SwiGLU: silu(gate) * up
      const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]);
      const down = matvec(w.w2[l], act, w.dim);
      x = x.map((v, i) => v + down[i]);
    }
    return matvec(w.classifier, rmsnorm(x, w.rmsFinal), w.vocab);
  }
}

/** -ln softmax(logits)[target] in float64. */
export function negLogLikelihood(logits: ArrayLike<number>, target: number): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  return Math.log(sum) + max - logits[target];
}

/** Samples a stream from the model at temperature 1 under `cache`, starting from BOS; returns the
 *  ids and the NLL of each next id under that same cache (nll[i] for ids[i + 1]). */
export function sampleStream(model: ReferenceLlama, length: number, rng: () => number): { ids: number[]; nll: number[] } {
  const ids = [1];
  const nll: number[] = [];
  while (ids.length < length) {
    const logits = model.step(ids[ids.length - 1]);
    let max = -Infinity;
    for (const v of logits) max = Math.max(max, v);
    const weights = logits.map((v) => Math.exp(v - max));
    let u = rng() * weights.reduce((a, b) => a + b, 0);
    let next = 0;
    while (next < weights.length - 1 && (u -= weights[next]) > 0) next++;
    nll.push(negLogLikelihood(logits, next));
    ids.push(next);
  }
  return { ids, nll };
}

/** NLL of every next id of `ids` under the model's cache settings. */
export function scoreStream(model: ReferenceLlama, ids: readonly number[]): number[] {
  return ids.slice(0, -1).map((id, t) => negLogLikelihood(model.step(id), ids[t + 1]));
}
