// The arithmetic and the tables of the benchmark's work counts (lab/workCounts.ts).

import { describe, expect, it } from 'vitest';
import { countsBetween, countsTable, formatCount, perToken, totalCounts, zeroCounts, type OwnedCounts, type WorkCounts } from '../../../lab/workCounts.ts';

const counts = (c: Partial<WorkCounts>): WorkCounts => ({ ...zeroCounts(), ...c });

describe('work counts', () => {
  it('takes the work between two readings owner by owner, and divides it by the tokens', () => {
    const before: OwnedCounts = { ours: counts({ submits: 3, readBytes: 100 }), onnxruntime: counts({ dispatches: 10 }) };
    const after: OwnedCounts = { ours: counts({ submits: 53, readBytes: 1140 }), onnxruntime: counts({ dispatches: 544, bindGroups: 534 }) };
    const between = countsBetween(before, after);
    expect(between.ours).toEqual(counts({ submits: 50, readBytes: 1040 }));
    expect(between.onnxruntime).toEqual(counts({ dispatches: 534, bindGroups: 534 }));
    const each = perToken(between, 2);
    expect(each.ours).toEqual(counts({ submits: 25, readBytes: 520 }));
    expect(totalCounts(each)).toEqual(counts({ submits: 25, dispatches: 267, bindGroups: 267, readBytes: 520 }));
    expect(() => perToken(between, 0)).toThrow(/at least one token/);
  });

  it('prints whole counts with separators and fractions to three significant digits', () => {
    expect(formatCount(20736)).toBe('20,736');
    expect(formatCount(13.9)).toBe('13.9');
    expect(formatCount(1 / 128)).toBe('0.00781');
    expect(formatCount(580.125)).toBe('580.1');
    expect(formatCount(0)).toBe('0');
  });

  it('writes one row per entry with every count in its column', () => {
    const [heading, rule, row] = countsTable([{ label: 'greedy', counts: counts({ submits: 51, dispatches: 341, bindGroups: 267, writeBuffers: 270, writeBytes: 20736, buffers: 1, encoders: 51, mapAsyncs: 1, readBytes: 520 }) }]);
    expect(heading).toBe('| what | queue submits | dispatches | bind groups created | writeBuffer | bytes written | buffers created | command encoders | mapAsync | bytes read back |');
    expect(rule.split('|').length).toBe(heading.split('|').length);
    expect(row).toBe('| greedy | 51 | 341 | 267 | 270 | 20,736 | 1 | 51 | 1 | 520 |');
  });
});
