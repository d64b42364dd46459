import { describe, expect, it } from 'vitest';
import { fillRopeTable, inverseFrequencies, ropeTableLength, validateRope, type RopeConfig } from '../../src/engine/kernels/rope.ts';
import { RingLayout } from '../../src/engine/kv/ringLayout.ts';
import { referenceFrequencies } from '../../lab/reference/attention.ts';

const llama3: RopeConfig = {
  theta: 500000,
  rotaryDim: 128,
  layout: 'half',
  scaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
};

describe('rope', () => {
  for (const rope of [llama3, { theta: 10000, rotaryDim: 64, layout: 'interleaved' as const }, { theta: 10000, rotaryDim: 32, layout: 'half' as const, scaling: { type: 'linear' as const, factor: 4 } }]) {
    it(`inverse frequencies match the reference (${rope.scaling?.type ?? 'no'} scaling)`, () => {
      const got = inverseFrequencies(rope);
      const expected = referenceFrequencies(rope);
      expect(got.length).toBe(expected.length);
      got.forEach((f, p) => expect(f).toBeCloseTo(expected[p], 15));
    });
  }

  it('llama3 scaling divides low frequencies by the factor and keeps high ones', () => {
    const plain = inverseFrequencies({ ...llama3, scaling: undefined });
    const scaled = inverseFrequencies(llama3);
    expect(scaled[0]).toBe(plain[0]);
    expect(scaled[63]).toBeCloseTo(plain[63] / 8, 20);
  });

  it('fills stream-index and query-rank angles per new token, exact at large stream indices', () => {
    const layout = new RingLayout({ mode: 'streaming', nSinks: 4, windowSize: 100, maxChunk: 4 });
    const rope: RopeConfig = { theta: 10000, rotaryDim: 4, layout: 'half' };
    const invFreq = inverseFrequencies(rope);
    const table = new Float32Array(ropeTableLength(2, 4));
    const t0 = 1_000_003;
    fillRopeTable(table, invFreq, layout, { t0, nNew: 2 });
    // (i=1, kind 0, pair 0): angle (t0 + 1) * 1; kind 1: query rank 103 (4 sinks + 100 window - 1).
    expect(table[(1 * 2 + 0) * 4 + 0]).toBe(Math.fround(Math.cos(t0 + 1)));
    expect(table[(1 * 2 + 1) * 4 + 1]).toBe(Math.fround(Math.sin(103)));
    expect(table[(0 * 2 + 0) * 4 + 3]).toBe(Math.fround(Math.sin(t0 * invFreq[1])));
  });

  it('refuses rotary settings the kernel cannot do', () => {
    expect(() => validateRope({ theta: 10000, rotaryDim: 6, layout: 'half' }, 4)).toThrow(/rotary dim/);
    expect(() => validateRope({ theta: 10000, rotaryDim: 3, layout: 'half' }, 4)).toThrow(/even/);
    expect(() => validateRope({ theta: 0, rotaryDim: 4, layout: 'half' }, 4)).toThrow(/theta/);
  });
});
