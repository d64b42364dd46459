// What the GPU's pick of the best logits must return, computed the slow, obvious way on the CPU,
// and the seeded rows and penalized sets that the sampling checks (unit and GPU) draw from.

import type { TopLogits } from '../src/engine/kernels/topLogits.ts';

/**
 * The k best logits of the ids not in `penalized` (best first, the lower id first among equals,
 * -Infinity left out), and the raw logit of each penalized id in its order.
 */
export function cpuPick(values: Float32Array, k: number, penalized: readonly number[] = []): TopLogits {
  const left = new Set(penalized);
  const ids = [...values.keys()].filter((i) => values[i] !== -Infinity && !left.has(i)).sort((a, b) => values[b] - values[a] || a - b).slice(0, k);
  return {
    ids: Uint32Array.from(ids),
    logits: Float32Array.from(ids, (i) => values[i]),
    count: ids.length,
    penalized: { ids: Uint32Array.from(penalized), logits: Float32Array.from(penalized, (i) => values[i]), count: penalized.length },
  };
}

/**
 * A row of kind r % 5: spread values of both signs, coarse values (many ties), masked tokens, a max
 * tied between -0 and +0 among negative logits, and all masked but a few.
 */
export function randomRow(vocab: number, r: number, rand: () => number): Float32Array<ArrayBuffer> {
  const row = new Float32Array(vocab);
  for (let i = 0; i < vocab; i++) row[i] = (rand() - 0.5) * 12;
  switch (r % 5) {
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
    case 4:
      for (let i = 0; i < vocab; i++) if (rand() < 0.995) row[i] = -Infinity;
      break;
  }
  return row;
}

/**
 * Recent ids as a generator would penalize them, of kind r % 4: none; ids from the row's best
 * (where a penalty reorders the winners) mixed with random ones and masked ones, with duplicates;
 * every finite id of a sparse row and more (so only penalized ids can win); random ids only. At
 * most `max` entries.
 */
export function randomPenalized(values: Float32Array, r: number, max: number, rand: () => number): number[] {
  const vocab = values.length;
  const pickOf = (ids: number[]) => ids[Math.floor(rand() * ids.length)];
  const best = [...values.keys()].filter((i) => values[i] !== -Infinity).sort((a, b) => values[b] - values[a] || a - b).slice(0, 80);
  const masked = [...values.keys()].filter((i) => values[i] === -Infinity).slice(0, 200);
  const out: number[] = [];
  const size = 1 + Math.floor(rand() * max);
  switch (r % 4) {
    case 0:
      return [];
    case 1:
      while (out.length < size) {
        const u = rand();
        if (u < 0.4 && best.length > 0) out.push(pickOf(best));
        else if (u < 0.5 && masked.length > 0) out.push(pickOf(masked));
        else if (u < 0.65 && out.length > 0) out.push(pickOf(out));
        else out.push(Math.floor(rand() * vocab));
      }
      return out;
    case 2: {
      const finite = best.slice(0, Math.max(0, max - 2));
      out.push(...finite);
      while (out.length < Math.min(max, finite.length + 2)) out.push(Math.floor(rand() * vocab));
      return out;
    }
    default:
      while (out.length < size) out.push(Math.floor(rand() * vocab));
      return out;
  }
}

/** A seeded linear congruential generator, for rows that must be the same on every run. */
export function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}
