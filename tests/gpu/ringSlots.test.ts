// The two statements of where token t lives: RingLayout.slotOf in TypeScript (the bookkeeping and
// the UI's cache picture) and slotOf in shaders/stream_layout.wgsl (where kv_append writes). Tokens
// are written through the real kernel and the V cache read back, across ring wraps, rollback slots
// and truncations.

import { describe, expect, it } from 'vitest';
import { RingLayout, type RingConfig } from '../../src/engine/kv/ringLayout.ts';
import { useLabPage } from './labPage.ts';
import type { AttentionLab } from '../../lab/attention/attentionLab.ts';

const { call: lab } = useLabPage<AttentionLab>('lab/attention/index.html', 'attentionLab');

interface Case {
  config: RingConfig;
  /** n > 0 appends a chunk of n tokens, n < 0 truncates n tokens. */
  steps: number[];
}

const cases: Case[] = [
  // Ring 4 + (16 + 8 - 1 + 5): wraps about three times, with rollbacks reaching into the rollback slots.
  { config: { mode: 'streaming', nSinks: 4, windowSize: 16, maxChunk: 8, rollbackSlots: 5 }, steps: [3, 8, 8, 1, 8, 7, 8, -10, 8, 8, 5, 1, 1, 8, 8, -6, 8, 2, 8, 8] },
  { config: { mode: 'streaming', nSinks: 1, windowSize: 1, maxChunk: 5 }, steps: [1, 5, 5, 2, 5, 1, 1, 5, -1, 3, 5] },
  { config: { mode: 'window', nSinks: 0, windowSize: 7, maxChunk: 3, rollbackSlots: 2 }, steps: [3, 3, 3, 2, 3, 3, -4, 3, 1, 3, 3, 3] },
  { config: { mode: 'dense', nSinks: 0, windowSize: 40, maxChunk: 8 }, steps: [8, 5, 8, -7, 8, 8, 8, 2] },
];

describe('ring slots: TypeScript and WGSL agree', () => {
  for (const { config, steps } of cases) {
    const label = `${config.mode} ${config.nSinks}+${config.windowSize}, chunks up to ${config.maxChunk}, ${config.rollbackSlots ?? 0} rollback slots`;
    it(`${label}: every token lands in the slot RingLayout.slotOf names, and the slots hold what RingLayout says`, async () => {
      const maps = await lab('slotMaps', config, steps);
      const layout = new RingLayout(config);
      expect(maps).toHaveLength(steps.length);
      let before = new Array<number>(layout.nSlots).fill(-1);
      let truncated = false;
      let wraps = 0;
      steps.forEach((n, step) => {
        const gpu = maps[step];
        const where = `step ${step} (${n > 0 ? `append ${n}` : `truncate ${-n}`}) at token ${layout.nTokens}`;
        if (n < 0) {
          layout.truncate(layout.nTokens + n);
          truncated = true;
          expect(gpu, `${where}: a truncation writes nothing`).toEqual(before);
        } else {
          const t0 = layout.nTokens;
          layout.commit(layout.planChunk(n));
          const written = new Set<number>();
          for (let t = t0; t < t0 + n; t++) {
            const slot = layout.slotOf(t);
            written.add(slot);
            expect(gpu[slot], `${where}: token ${t} should be in slot ${slot}`).toBe(t);
            if (t >= layout.nSinks && slot === layout.nSinks && t > layout.nSinks) wraps++;
          }
          const strays = gpu.flatMap((token, slot) => (token !== before[slot] && !written.has(slot) ? [`slot ${slot}: ${before[slot]} -> ${token}`] : []));
          expect(strays, `${where}: slots written that slotOf did not name`).toEqual([]);
        }
        // What the next token must see is where the layout says it is.
        const next = layout.nTokens;
        for (let j = 0; j < next; j++) {
          if (j < layout.nSinks || j >= layout.windowStart(next)) expect(gpu[layout.slotOf(j)], `${where}: visible token ${j}`).toBe(j);
        }
        // Until a truncation leaves discarded tokens in slots, every slot holds what streamIndexOfSlot says.
        if (!truncated) expect(gpu, where).toEqual(Array.from({ length: layout.nSlots }, (_, slot) => layout.streamIndexOfSlot(slot)));
        before = gpu;
      });
      // The case is only worth running if the stream went round the ring (or filled a dense cache).
      if (config.mode === 'dense') expect(layout.nTokens).toBeGreaterThan(config.windowSize - config.maxChunk);
      else expect(wraps).toBeGreaterThanOrEqual(2);
    });
  }
});
