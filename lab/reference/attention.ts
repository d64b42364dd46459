// CPU float64 reference of docs/architecture.md section 1, written from the definition and independently of
// the kernel: it keeps every token's raw (pre-RoPE) K and V, builds V(t) as a set, ranks it, and
// rotates queries and keys at those ranks. Slow on purpose; used only by tests.

export type ReferenceMode = 'streaming' | 'window' | 'dense';

export interface ReferenceRope {
  theta: number;
  rotaryDim: number;
  layout: 'half' | 'interleaved';
  scaling?:
    | { type: 'linear'; factor: number }
    | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number };
}

export interface ReferenceSpec {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  mode: ReferenceMode;
  nSinks: number;
  windowSize: number;
  rope: ReferenceRope;
  scale?: number;
}

/** V(t) in ascending order. */
export function visibleTokens(spec: ReferenceSpec, t: number): number[] {
  if (spec.mode === 'dense') return Array.from({ length: t + 1 }, (_, j) => j);
  const sinks = spec.mode === 'streaming' ? spec.nSinks : 0;
  const set = new Set<number>();
  for (let j = 0; j < Math.min(sinks, t + 1); j++) set.add(j);
  for (let j = Math.max(sinks, t - spec.windowSize + 1); j <= t; j++) set.add(j);
  return [...set].sort((a, b) => a - b);
}

/** Frequency of each rotating pair, HF-style scaling included. */
export function referenceFrequencies(rope: ReferenceRope): number[] {
  const freqs: number[] = [];
  for (let p = 0; p < rope.rotaryDim / 2; p++) {
    let f = 1 / rope.theta ** ((2 * p) / rope.rotaryDim);
    const s = rope.scaling;
    if (s?.type === 'linear') f = f / s.factor;
    if (s?.type === 'llama3') {
      const wavelength = (2 * Math.PI) / f;
      const lowWavelength = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
      const highWavelength = s.originalMaxPositionEmbeddings / s.highFreqFactor;
      if (wavelength > lowWavelength) f = f / s.factor;
      else if (wavelength >= highWavelength) {
        const mix = (s.originalMaxPositionEmbeddings / wavelength - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
        f = mix * f + (1 - mix) * (f / s.factor);
      }
    }
    freqs.push(f);
  }
  return freqs;
}

/** One head vector rotated to position pos. */
export function rotateHead(x: ArrayLike<number>, pos: number, rope: ReferenceRope, freqs: number[]): Float64Array {
  const out = Float64Array.from(x);
  const half = rope.rotaryDim / 2;
  for (let p = 0; p < half; p++) {
    const a = rope.layout === 'half' ? p : 2 * p;
    const b = rope.layout === 'half' ? p + half : 2 * p + 1;
    const c = Math.cos(pos * freqs[p]);
    const s = Math.sin(pos * freqs[p]);
    out[a] = x[a] * c - x[b] * s;
    out[b] = x[a] * s + x[b] * c;
  }
  return out;
}

/** Raw per-token tensors: q(t) is [nHeads * headDim], k(j) and v(j) are [nKvHeads * headDim]. */
export interface ReferenceStream {
  q(t: number): ArrayLike<number>;
  k(j: number): ArrayLike<number>;
  v(j: number): ArrayLike<number>;
}

/** Attention output of token t, [nHeads * headDim], in float64. */
export function referenceAttention(spec: ReferenceSpec, stream: ReferenceStream, t: number): Float64Array {
  const { nHeads, nKvHeads, headDim, rope } = spec;
  const freqs = referenceFrequencies(rope);
  const scale = spec.scale ?? 1 / Math.sqrt(headDim);
  const visible = visibleTokens(spec, t);
  const queryPos = visible.length - 1;
  const keys = visible.map((j, rank) => {
    const raw = stream.k(j);
    return Array.from({ length: nKvHeads }, (_, h) => rotateHead(slice(raw, h, headDim), rank, rope, freqs));
  });
  const q = stream.q(t);
  const out = new Float64Array(nHeads * headDim);
  const group = nHeads / nKvHeads;
  for (let h = 0; h < nHeads; h++) {
    const kvHead = Math.floor(h / group);
    const qh = rotateHead(slice(q, h, headDim), queryPos, rope, freqs);
    const scores = keys.map((kj) => {
      let dot = 0;
      for (let d = 0; d < headDim; d++) dot += qh[d] * kj[kvHead][d];
      return dot * scale;
    });
    const max = Math.max(...scores);
    const weights = scores.map((s) => Math.exp(s - max));
    const sum = weights.reduce((a, b) => a + b, 0);
    visible.forEach((j, n) => {
      const v = stream.v(j);
      for (let d = 0; d < headDim; d++) out[h * headDim + d] += (weights[n] / sum) * v[kvHead * headDim + d];
    });
  }
  return out;
}

function slice(x: ArrayLike<number>, head: number, headDim: number): number[] {
  return Array.from({ length: headDim }, (_, d) => x[head * headDim + d]);
}
