// Sampling on the GPU, checked in the page: the GPU's pick of the best logits (with the recent ids
// under a repetition penalty left out and their raw values gathered) against the CPU sampler
// reading the whole row, on seeded random rows (ties, -0, negative, masked, NaN and +Infinity
// rows), in f32 and packed f16.

import { Sampler } from '../../src/engine/generate/sampler.ts';
import type { SamplingParams } from '../../src/protocol/messages.ts';
import { align4 } from '../../src/engine/gpu/align.ts';
import { MAX_PENALIZED } from '../../src/engine/kernels/kernelSizes.ts';
import { TopLogitsKernel, type TopLogits } from '../../src/engine/kernels/topLogits.ts';
import { cpuPick, lcg, randomPenalized, randomRow } from '../topPick.ts';

export interface TopCheckSpec {
  vocab: number;
  dtype: 'f32' | 'f16';
  /** Random rows per k. */
  rows: number;
  ks: number[];
  seed: number;
}

export interface TopCheckResult {
  /** (row, k) pairs compared. */
  checked: number;
  /** Of those, how many left penalized ids out. */
  withPenalized: number;
  /** Sampler draws compared, full row against GPU pick. */
  draws: number;
  /** Of those, how many under a repetition penalty. */
  penalizedDraws: number;
  /** Descriptions of every disagreement; empty when the GPU matches the CPU everywhere. */
  mismatches: string[];
  /** Per special row: whether the GPU reported it as the CPU sampler would treat it. */
  specials: { nan: boolean; inf: boolean; allMasked: boolean; nanPenalized: boolean };
}

/** The row as stored on the GPU and as the decoder would read it back (f16 rounds). */
function upload(device: GPUDevice, row: Float32Array, dtype: 'f32' | 'f16'): { buffer: GPUBuffer; values: Float32Array } {
  const stored = dtype === 'f16' ? new Float16Array(row) : row;
  const bytes = new Uint8Array(align4(stored.byteLength));
  bytes.set(new Uint8Array(stored.buffer, stored.byteOffset, stored.byteLength));
  const buffer = device.createBuffer({ size: bytes.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(buffer, 0, bytes);
  return { buffer, values: dtype === 'f16' ? new Float32Array(stored) : row };
}

/** Settings whose draws are compared on each row: greedy and sampled, with and without top-p, penalties above and below 1. */
function settingsFor(k: number, r: number): SamplingParams[] {
  return [
    { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: r },
    { temperature: 0.8, topK: k, topP: 0.9, repetitionPenalty: 1, seed: r },
    { temperature: 1.5, topK: k, topP: 1, repetitionPenalty: 1, seed: r + 1 },
    { temperature: 0, topK: 40, topP: 0.9, repetitionPenalty: 1.1, seed: r },
    { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 0.8, seed: r },
    { temperature: 0.7, topK: k, topP: 0.9, repetitionPenalty: 1.1, seed: r + 2 },
    { temperature: 1, topK: k, topP: 1, repetitionPenalty: 1.5, seed: r + 3 },
    { temperature: 0.5, topK: k, topP: 0.8, repetitionPenalty: 0.8, seed: r + 4 },
    { temperature: 2, topK: k, topP: 1, repetitionPenalty: 2, seed: r + 5 },
  ];
}

export async function checkTopLogits(device: GPUDevice, spec: TopCheckSpec): Promise<TopCheckResult> {
  const kernel = new TopLogitsKernel(device, spec.vocab, spec.dtype);
  const rand = lcg(spec.seed);
  const mismatches: string[] = [];
  let checked = 0;
  let withPenalized = 0;
  let draws = 0;
  let penalizedDraws = 0;
  try {
    for (const k of spec.ks) {
      for (let r = 0; r < spec.rows; r++) {
        const { buffer, values } = upload(device, randomRow(spec.vocab, r, rand), spec.dtype);
        const penalized = randomPenalized(values, r, MAX_PENALIZED, rand);
        const pick = await kernel.top(buffer, 0, k, penalized);
        const top: TopLogits = {
          ids: pick.ids.slice(0, pick.count),
          logits: pick.logits.slice(0, pick.count),
          count: pick.count,
          penalized: { ids: pick.penalized.ids.slice(0, pick.penalized.count), logits: pick.penalized.logits.slice(0, pick.penalized.count), count: pick.penalized.count },
        };
        buffer.destroy();
        checked++;
        if (penalized.length > 0) withPenalized++;
        const expected = cpuPick(values, k, penalized);
        const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((x, i) => Object.is(x + 0, b[i] + 0));
        if (
          pick.bad !== 0 ||
          [...top.ids].join() !== [...expected.ids].join() ||
          !same(top.logits, expected.logits) ||
          [...top.penalized.ids].join() !== penalized.join() ||
          !same(top.penalized.logits, expected.penalized.logits)
        ) {
          mismatches.push(`k ${k} row ${r} (${penalized.length} penalized): bad ${pick.bad}, got ${[...top.ids].slice(0, 8).join()}, expected ${[...expected.ids].slice(0, 8).join()}`);
          continue;
        }
        for (const params of settingsFor(k, r)) {
          const [full, picked] = [new Sampler(params), new Sampler(params)];
          const need = picked.topNeeded(spec.vocab);
          if (need === null || need > k) continue;
          const penalize = params.repetitionPenalty !== 1;
          // What the generator gives: the recent ids under a penalty, none without one.
          const view: TopLogits = { ...top, count: Math.min(top.count, need), penalized: penalize ? top.penalized : { ...top.penalized, count: 0 } };
          if (!penalize && penalized.length > 0) continue; // the pick left ids out that no penalty brings back
          for (let d = 0; d < 5; d++, draws++) {
            if (penalize) penalizedDraws++;
            const [a, b] = [outcome(() => full.sample(values, penalized)), outcome(() => picked.sampleTop(view))];
            if (a !== b) mismatches.push(`k ${k} row ${r} ${JSON.stringify(params)} draw ${d}: CPU ${a}, GPU pick ${b}`);
          }
        }
      }
    }
    const special = async (fill: (row: Float32Array) => void, penalized: number[] = []) => {
      const row = randomRow(spec.vocab, 0, rand);
      fill(row);
      const { buffer } = upload(device, row, spec.dtype);
      const pick = await kernel.top(buffer, 0, 1, penalized);
      buffer.destroy();
      return pick;
    };
    const specials = {
      nan: (await special((row) => (row[spec.vocab - 3] = NaN))).bad === 1,
      inf: (await special((row) => (row[1] = Infinity))).bad === 1,
      allMasked: await special((row) => row.fill(-Infinity)).then((p) => p.bad === 0 && p.count === 0),
      // A penalized id is still checked: NaN there sends the caller to the whole row too.
      nanPenalized: (await special((row) => (row[7] = NaN), [3, 7, 7])).bad === 1,
    };
    return { checked, withPenalized, draws, penalizedDraws, mismatches, specials };
  } finally {
    kernel.destroy();
  }
}

/** The id drawn, or the error code where the sampler refuses the row (every logit -Infinity). */
function outcome(draw: () => number): string {
  try {
    return String(draw());
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}
