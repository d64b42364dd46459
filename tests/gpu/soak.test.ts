// The engine soak of tools/soak.ts on a shortened scale: two thousand tokens of stories260K
// streamed through a 4 + 252 cache in chunks of 64, checked at every checkpoint for finite logits,
// flat GPU buffers and JS heap, and against engines restored from a snapshot or fed only V(t).

import { describe, expect, it } from 'vitest';
import { useLabPage } from './labPage.ts';
import { pageSoakDriver, SOAK_PAGE, soakStream } from '../../lab/soak/pageSoak.ts';
import { runSoak, soakFailures, type SoakResult } from '../../lab/soak/soakRun.ts';
import type { SoakPage } from '../../lab/soak/soak.ts';

const lab = useLabPage<SoakPage>(SOAK_PAGE, 'soak');

describe('engine soak, shortened', () => {
  let result: SoakResult;

  it('streams 2048 tokens with finite logits, flat GPU buffers and heap, and checkpoints that match fresh engines', async () => {
    // 2,064 tokens of the stream are read (each checkpoint adds its 4 decodes); sampling the
    // command's 20,000 would cost two minutes on a clean clone.
    result = await runSoak(pageSoakDriver(lab.browser().page), { tokens: 2048, chunk: 64, sinks: 4, window: 252, every: 512, approxPositions: 4, decodeSamples: 4, maxMinutes: 0 }, soakStream(2064));
    // Each checkpoint also feeds its 4 timed one-token decodes.
    expect(result.checkpoints.map((c) => c.tokens)).toEqual([516, 1032, 1548, 2064]);
    // Decode times on a shared 2-core machine are information, not a check.
    console.log(`one-token decode ms at each checkpoint: ${result.checkpoints.map((c) => c.decodeMs.toFixed(1)).join(', ')}; ` +
      `fresh engine fed V(t): ${result.checkpoints.map((c) => `${c.approx.greedyAgree}/${c.approx.positions} KL ${c.approx.meanKl.toFixed(4)}`).join(', ')}`);
    expect(soakFailures(result)).toEqual([]);
    // The restored engine is the same computation on the same state: nothing may differ.
    expect(result.checkpoints.every((c) => c.exact.bitEqual)).toBe(true);
    expect(result.buffersAfterUnload).toBe(0);
  }, 1_200_000);

  it('reports leaks, non-finite logits and mismatches in the same run as failures', () => {
    expect(result, 'needs the soak above').toBeDefined();
    const [first, ...rest] = result.checkpoints;
    const last = rest[rest.length - 1];
    const broken: SoakResult = {
      ...result,
      checkpoints: [
        first,
        ...rest.slice(0, -1),
        {
          ...last, nonFinite: 3, liveBuffers: last.liveBuffers + 1, heapBytes: first.heapBytes + 8 * 2 ** 20, exact: { ...last.exact, maxAbsDiff: 0.5 },
          approx: { ...last.approx, greedyAgree: 0, meanKl: 0.2 },
        },
      ],
    };
    const failures = soakFailures(broken).join('\n');
    expect(failures).toMatch(/3 non-finite logits before token 2064/);
    expect(failures).toMatch(/live GPU buffers \d+ at token 516, \d+ at token 2064/);
    expect(failures).toMatch(/JS heap grew by 8\.\d\d MiB/);
    expect(failures).toMatch(/restored engine differs by 0\.5/);
    // One checkpoint of four that misses every greedy token pulls the run below both bounds.
    expect(failures).toMatch(/agrees on the greedy token at only \d+\.\d% of 16 positions/);
    expect(failures).toMatch(/mean KL\(stream \|\| fresh engine fed V\(t\)\) is 0\.0[5-9]/);
  });
});
