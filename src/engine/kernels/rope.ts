// Rotary position embedding parameters and the per-chunk cos/sin table, computed in float64 on the
// CPU: stream indices grow without bound, and float32 angles t * theta lose precision beyond ~1e5.

import { EngineError } from '../../protocol/errors.ts';
import type { ChunkPlan, RingLayout } from '../kv/ringLayout.ts';

/** 'half': pairs (p, p + rotaryDim/2), as in Hugging Face models; 'interleaved': pairs (2p, 2p+1), as in llama2.c. */
export type RopeLayout = 'half' | 'interleaved';

export type RopeScaling =
  | { type: 'linear'; factor: number }
  | {
      type: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    };

export interface RopeConfig {
  /** Base of the frequencies (rope_theta). */
  theta: number;
  /** Leading dims of each head that rotate; the rest pass through. */
  rotaryDim: number;
  layout: RopeLayout;
  scaling?: RopeScaling;
  /** Rotary dim the frequencies are computed for, when smaller than rotaryDim: pairs beyond
   *  frequencyDim/2 do not rotate. Exports that pad heads (onnxruntime's GQA wants head sizes
   *  divisible by 16) rotate the model's pairs inside a wider graph rotary dim. */
  frequencyDim?: number;
}

export function validateRope(rope: RopeConfig, headDim: number): void {
  const { theta, rotaryDim, layout, scaling } = rope;
  const bad = (why: string): never => {
    throw new EngineError('UNSUPPORTED_SHAPE', `Unsupported rotary embedding: ${why}`);
  };
  if (!(theta > 0)) bad(`theta must be positive, got ${theta}.`);
  if (!Number.isInteger(rotaryDim) || rotaryDim < 2 || rotaryDim % 2 !== 0 || rotaryDim > headDim) {
    bad(`the rotary dim must be even and between 2 and the head dim ${headDim}, got ${rotaryDim}.`);
  }
  if (layout !== 'half' && layout !== 'interleaved') bad(`unknown layout "${String(layout)}".`);
  if (scaling && !(scaling.factor > 0)) bad(`the scaling factor must be positive, got ${scaling.factor}.`);
  if (rope.frequencyDim !== undefined && !(Number.isInteger(rope.frequencyDim) && rope.frequencyDim >= 2 && rope.frequencyDim % 2 === 0 && rope.frequencyDim <= rotaryDim)) {
    bad(`the frequency dim must be even and at most the rotary dim ${rotaryDim}, got ${rope.frequencyDim}.`);
  }
  if (scaling?.type === 'llama3' && !(scaling.highFreqFactor > scaling.lowFreqFactor)) {
    bad('llama3 scaling needs highFreqFactor > lowFreqFactor.');
  }
}

/** inv_freq[p] for each rotating pair p, with the model's frequency scaling applied. */
export function inverseFrequencies(rope: RopeConfig): Float64Array {
  const nPairs = rope.rotaryDim / 2;
  const frequencyDim = rope.frequencyDim ?? rope.rotaryDim;
  const invFreq = new Float64Array(nPairs); // pairs past frequencyDim/2 keep frequency 0: no rotation
  for (let p = 0; p < frequencyDim / 2; p++) {
    // inv_freq = theta^(-2p / frequencyDim)
    invFreq[p] = Math.pow(rope.theta, (-2 * p) / frequencyDim);
  }
  const scaling = rope.scaling;
  if (scaling?.type === 'linear') {
    for (let p = 0; p < nPairs; p++) invFreq[p] /= scaling.factor;
  } else if (scaling?.type === 'llama3') {
    const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: ctx } = scaling;
    const lowFreqWavelen = ctx / lowFreqFactor;
    const highFreqWavelen = ctx / highFreqFactor;
    for (let p = 0; p < frequencyDim / 2; p++) {
      const wavelen = (2 * Math.PI) / invFreq[p];
      if (wavelen > lowFreqWavelen) {
        invFreq[p] /= factor; // long wavelengths: fully interpolated
      } else if (wavelen >= highFreqWavelen) {
        // between the two: blend interpolated and original by how far the wavelength is along
        const smooth = (ctx / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
        invFreq[p] = (1 - smooth) * (invFreq[p] / factor) + smooth * invFreq[p];
      }
    }
  }
  return invFreq;
}

/** Floats in the table for a chunk of nNew tokens: (i, kind, pair) x (cos, sin). */
export function ropeTableLength(nNew: number, rotaryDim: number): number {
  return nNew * 2 * (rotaryDim / 2) * 2;
}

/**
 * Fills the cos/sin table of one chunk: (i, kind, pair) -> (cos, sin) with
 * kind 0 = stream index t (rotates the new key, and the query against window keys: their score
 * depends only on t - j) and kind 1 = the query's rank in V(t) (rotates it against sink s,
 * which is stored rotated by s).
 */
export function fillRopeTable(out: Float32Array, invFreq: Float64Array, layout: RingLayout, plan: ChunkPlan): void {
  const nPairs = invFreq.length;
  for (let i = 0; i < plan.nNew; i++) {
    const t = plan.t0 + i;
    const positions = [t, layout.queryPosition(t)];
    for (let kind = 0; kind < 2; kind++) {
      const base = (i * 2 + kind) * nPairs * 2;
      for (let p = 0; p < nPairs; p++) {
        const angle = positions[kind] * invFreq[p];
        out[base + 2 * p] = Math.cos(angle);
        out[base + 2 * p + 1] = Math.sin(angle);
      }
    }
  }
}
