// The soak's trend figure on made-up checkpoints: flat decode times give no slope, times that grow
// with the stream give the growth per million tokens, whatever the noise around it.

import { describe, expect, it } from 'vitest';
import { decodeSlope, type SoakRecord, type SoakResult } from '../../lab/soak/soakRun.ts';

function result(decodeMs: (millions: number, i: number) => number): SoakResult {
  const checkpoints = Array.from({ length: 25 }, (_, i) => ({ tokens: 40_960 * (i + 1), decodeMs: decodeMs((40_960 * (i + 1)) / 1e6, i) }) as SoakRecord);
  return { options: { tokens: 1_000_000, chunk: 256, sinks: 4, window: 252, every: 40_960, approxPositions: 4, decodeSamples: 16, maxMinutes: 0 }, adapter: 'test', checkpoints, buffersAfterUnload: 0, stoppedEarly: false };
}

describe('decodeSlope', () => {
  it('is 0 for a flat decode time', () => {
    expect(decodeSlope(result(() => 20))).toBeCloseTo(0, 10);
  });

  it('is the growth in ms per million tokens, through alternating noise', () => {
    expect(decodeSlope(result((m) => 20 + 5 * m))).toBeCloseTo(5, 10);
    expect(decodeSlope(result((m, i) => 20 + 5 * m + (i % 2 ? 2 : -2)))).toBeCloseTo(5, 0);
  });
});
