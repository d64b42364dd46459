// Sampling on the GPU, checked in the page: the GPU's pick of the best logits against the CPU
// sampler reading the whole row, on seeded random rows (ties, -0, masked, NaN and +Infinity rows),
// in f32 and f16.

import { Sampler, type SamplingParams, type TopLogits } from '../../src/engine/generate/sampler.ts';
import { TopLogitsKernel } from '../../src/engine/kernels/topLogits.ts';

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
  /** Sampler draws compared, full row against GPU pick. */
  draws: number;
  /** Descriptions of every disagreement; empty when the GPU matches the CPU everywhere. */
  mismatches: string[];
  /** Per special row: whether the GPU reported it as the CPU sampler would treat it. */
  specials: { nan: boolean; inf: boolean; allMasked: boolean };
}

function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

/** A row of kind r % 4: spread values, coarse values (many ties), masked tokens, a max tied between -0 and +0. */
function randomRow(vocab: number, r: number, rand: () => number): Float32Array {
  const row = new Float32Array(vocab);
  for (let i = 0; i < vocab; i++) row[i] = (rand() - 0.5) * 12;
  switch (r % 4) {
    case 1:
      for (let i = 0; i < vocab; i++) row[i] = Math.round(row[i] * 2) / 2;
      break;
    case 2:
      for (let i = 0; i < vocab; i++) if (rand() < 0.3) row[i] = -Infinity;
      break;
    case 3: {
      for (let i = 0; i < vocab; i++) row[i] = -Math.abs(row[i]) - 1;
      const a = Math.floor(rand() * (vocab - 1));
      row[a] = -0;
      row[a + 1 + Math.floor(rand() * (vocab - a - 1))] = 0;
      break;
    }
  }
  return row;
}

/** The row as stored on the GPU and as the decoder would read it back (f16 rounds). */
function upload(device: GPUDevice, row: Float32Array, dtype: 'f32' | 'f16'): { buffer: GPUBuffer; values: Float32Array } {
  const stored = dtype === 'f16' ? new Float16Array(row) : row;
  const bytes = new Uint8Array(Math.ceil(stored.byteLength / 4) * 4);
  bytes.set(new Uint8Array(stored.buffer, stored.byteOffset, stored.byteLength));
  const buffer = device.createBuffer({ size: bytes.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(buffer, 0, bytes);
  return { buffer, values: dtype === 'f16' ? new Float32Array(stored) : row };
}

function cpuTop(values: Float32Array, k: number): number[] {
  return [...values.keys()].filter((i) => values[i] !== -Infinity).sort((a, b) => values[b] - values[a] || a - b).slice(0, k);
}

export async function checkTopLogits(device: GPUDevice, spec: TopCheckSpec): Promise<TopCheckResult> {
  const kernel = new TopLogitsKernel(device, spec.vocab, spec.dtype);
  const rand = lcg(spec.seed);
  const mismatches: string[] = [];
  let checked = 0;
  let draws = 0;
  try {
    for (const k of spec.ks) {
      for (let r = 0; r < spec.rows; r++) {
        const { buffer, values } = upload(device, randomRow(spec.vocab, r, rand), spec.dtype);
        const pick = await kernel.top(buffer, 0, k);
        const top: TopLogits = { ids: pick.ids.slice(0, pick.count), logits: pick.logits.slice(0, pick.count), count: pick.count };
        buffer.destroy();
        checked++;
        const expected = cpuTop(values, k);
        const got = [...top.ids];
        if (pick.bad !== 0 || got.join() !== expected.join() || got.some((id, i) => !Object.is(top.logits[i] + 0, values[id] + 0))) {
          mismatches.push(`k ${k} row ${r}: bad ${pick.bad}, got ${got.slice(0, 8).join()}, expected ${expected.slice(0, 8).join()}`);
          continue;
        }
        const settings: SamplingParams[] = [
          { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: r },
          { temperature: 0.8, topK: k, topP: 0.9, repetitionPenalty: 1, seed: r },
          { temperature: 1.5, topK: k, topP: 1, repetitionPenalty: 1, seed: r + 1 },
        ];
        for (const params of settings) {
          const [full, picked] = [new Sampler(params), new Sampler(params)];
          const need = picked.topNeeded(spec.vocab);
          if (need === null || need > k) continue;
          const view = { ...top, count: Math.min(top.count, need) };
          for (let d = 0; d < 5; d++, draws++) {
            const [a, b] = [full.sample(values, []), picked.sampleTop(view)];
            if (a !== b) mismatches.push(`k ${k} row ${r} ${JSON.stringify(params)} draw ${d}: CPU ${a}, GPU pick ${b}`);
          }
        }
      }
    }
    const special = async (fill: (row: Float32Array) => void) => {
      const row = randomRow(spec.vocab, 0, rand);
      fill(row);
      const { buffer } = upload(device, row, spec.dtype);
      const pick = await kernel.top(buffer, 0, 1);
      buffer.destroy();
      return pick;
    };
    const specials = {
      nan: (await special((row) => (row[spec.vocab - 3] = NaN))).bad === 1,
      inf: (await special((row) => (row[1] = Infinity))).bad === 1,
      allMasked: await special((row) => row.fill(-Infinity)).then((p) => p.bad === 0 && p.count === 0),
    };
    return { checked, draws, mismatches, specials };
  } finally {
    kernel.destroy();
  }
}
