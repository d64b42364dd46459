// The memory panel's marks on messages (in the window, partly out, only the sinks kept, out) read
// the ring as the engine's RingLayout states it: a message is 'in' exactly when every one of its
// tokens is in V(t) of the next token, t = nTokens, as the attention kernel reads it.

import { describe, expect, it } from 'vitest';
import { RingLayout } from '../../src/engine/kv/ringLayout.ts';
import type { AttentionMode, CacheState } from '../../src/protocol/messages.ts';
import { placeOf, type WindowPlace } from '../../src/features/memory/windowMath.ts';

/** The place a span should get, from V(nTokens) token by token. */
function expected(layout: RingLayout, start: number, end: number): WindowPlace {
  const t = layout.nTokens;
  const seen = (i: number) => i < layout.nSinks || (layout.mode === 'dense' ? true : i >= layout.windowStart(t));
  const all = Array.from({ length: end - start }, (_, k) => start + k);
  if (all.every(seen)) return 'in';
  if (all.some((i) => i >= layout.nSinks && seen(i))) return 'partly-out';
  return all.some(seen) ? 'sinks-only' : 'out';
}

const stateOf = (layout: RingLayout): CacheState => ({
  conversationId: 'c', nSinks: layout.nSinks, windowSize: layout.windowSize, ringSize: layout.ringSize, nTokens: layout.nTokens,
  evicted: layout.evictedCount, ring: layout.picture, dtype: 'f32', bytesPerToken: 1, totalBytes: 1, spans: [],
});

describe('the marks on messages', () => {
  for (const [mode, nSinks] of [['streaming', 2], ['window', 0], ['dense', 0]] as [AttentionMode, number][]) {
    it(`agree with RingLayout's V(t) for every span at every length (${mode})`, () => {
      const layout = new RingLayout({ mode, nSinks, windowSize: 8, maxChunk: 4, rollbackSlots: 3 });
      for (let step = 0; step < (mode === 'dense' ? 8 : 40); step++) {
        layout.commit(layout.planChunk(1));
        const state = stateOf(layout);
        for (let start = 0; start < layout.nTokens; start++) {
          for (let end = start + 1; end <= layout.nTokens; end++) {
            expect(placeOf({ messageId: 'm', start, end }, state), `${mode} t=${layout.nTokens} [${start}, ${end})`).toBe(expected(layout, start, end));
          }
        }
      }
    });
  }

  it('draws the ring where RingLayout writes: the next ring position and the laps', () => {
    const layout = new RingLayout({ mode: 'streaming', nSinks: 2, windowSize: 8, maxChunk: 4, rollbackSlots: 0 });
    for (let t = 0; t < 40; t++) {
      const { next, turns, filled, windowStart } = layout.picture;
      if (t >= layout.nSinks) expect(layout.nSinks + next).toBe(layout.slotOf(t));
      expect(turns).toBe(Math.floor(Math.max(0, t - layout.nSinks) / layout.ringSize));
      expect(filled).toBe(layout.occupiedSlots - Math.min(layout.nSinks, t));
      expect(layout.visibleCount(t)).toBe(Math.min(layout.nSinks, t + 1) + Math.max(0, t - windowStart + 1));
      layout.commit(layout.planChunk(1));
    }
  });
});
