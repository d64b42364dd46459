import { describe, expect, it } from 'vitest';
import { RingLayout, type RingConfig } from '../../src/engine/kv/ringLayout.ts';
import { EngineError } from '../../src/protocol/errors.ts';
import { visibleTokens } from '../../lab/reference/attention.ts';

const configs: RingConfig[] = [
  { mode: 'streaming', nSinks: 4, windowSize: 16, maxChunk: 8 },
  { mode: 'streaming', nSinks: 1, windowSize: 1, maxChunk: 5 },
  { mode: 'window', nSinks: 0, windowSize: 7, maxChunk: 3 },
  { mode: 'dense', nSinks: 0, windowSize: 300, maxChunk: 32 },
];

/** Feeds chunk sizes and simulates slot contents the slow way. */
function simulate(config: RingConfig, sizes: number[]) {
  const layout = new RingLayout(config);
  const slots = new Array<number>(layout.nSlots).fill(-1);
  for (const n of sizes) {
    const plan = layout.planChunk(n);
    for (let i = 0; i < n; i++) slots[layout.slotOf(plan.t0 + i)] = plan.t0 + i;
    layout.commit(plan);
  }
  return { layout, slots };
}

describe('RingLayout', () => {
  for (const config of configs) {
    const label = `${config.mode} ${config.nSinks}+${config.windowSize}, chunks up to ${config.maxChunk}`;

    it(`${label}: V(t) matches the definition in docs/architecture.md section 1`, () => {
      const layout = new RingLayout(config);
      const spec = { ...config, nHeads: 1, nKvHeads: 1, headDim: 2, rope: { theta: 1, rotaryDim: 2, layout: 'half' as const } };
      for (let t = 0; t < 300; t++) {
        const expected = visibleTokens(spec, t);
        expect(layout.visibleCount(t)).toBe(expected.length);
        expect(layout.queryPosition(t)).toBe(expected.length - 1);
        const windowPart = expected.filter((j) => j >= layout.nSinks);
        if (windowPart.length > 0) expect(layout.windowStart(t)).toBe(windowPart[0]);
      }
    });

    it(`${label}: while a chunk is written, every query of it still finds all of V(t) in its slots`, () => {
      const layout = new RingLayout(config);
      const spec = { ...config, nHeads: 1, nKvHeads: 1, headDim: 2, rope: { theta: 1, rotaryDim: 2, layout: 'half' as const } };
      const slots = new Array<number>(layout.nSlots).fill(-1);
      const sizes = [config.maxChunk, 1, Math.max(1, config.maxChunk - 1), 1, config.maxChunk];
      for (let step = 0; layout.nTokens + config.maxChunk <= (config.mode === 'dense' ? config.windowSize : 400); step++) {
        const plan = layout.planChunk(sizes[step % sizes.length]);
        for (let i = 0; i < plan.nNew; i++) slots[layout.slotOf(plan.t0 + i)] = plan.t0 + i;
        for (let i = 0; i < plan.nNew; i++) {
          for (const j of visibleTokens(spec, plan.t0 + i)) expect(slots[layout.slotOf(j)]).toBe(j);
        }
        layout.commit(plan);
        for (let slot = 0; slot < layout.nSlots; slot++) expect(layout.streamIndexOfSlot(slot)).toBe(slots[slot]);
      }
      expect(layout.occupiedSlots).toBe(slots.filter((s) => s >= 0).length);
    });
  }

  it('counts the tokens the next token can no longer see', () => {
    const { layout } = simulate({ mode: 'streaming', nSinks: 4, windowSize: 16, maxChunk: 8 }, [8, 8, 8, 8]);
    expect(layout.nTokens).toBe(32);
    // The next token (32) sees sinks 0..3 and 17..32, so tokens 4..16 are gone.
    expect(layout.evictedCount).toBe(13);
    expect(new RingLayout({ mode: 'dense', nSinks: 0, windowSize: 64, maxChunk: 8 }).evictedCount).toBe(0);
  });

  it('allows truncation exactly while no token the next query needs was overwritten', () => {
    const config: RingConfig = { mode: 'streaming', nSinks: 2, windowSize: 6, maxChunk: 4 };
    const spec = { ...config, nHeads: 1, nKvHeads: 1, headDim: 2, rope: { theta: 1, rotaryDim: 2, layout: 'half' as const } };
    const { layout, slots } = simulate(config, [4, 4, 4, 1, 1, 3]);
    for (let length = 0; length <= layout.nTokens; length++) {
      const needed = visibleTokens(spec, length).filter((j) => j < length);
      const intact = needed.every((j) => slots[layout.slotOf(j)] === j);
      expect(layout.canTruncateTo(length), `truncate to ${length}`).toBe(intact);
    }
    expect(layout.canTruncateTo(layout.nTokens + 1)).toBe(false);
    expect(layout.canTruncateTo(2)).toBe(true); // only sinks needed
    expect(() => layout.truncate(4)).toThrow(EngineError);
    layout.truncate(layout.nTokens - 2);
    expect(layout.nTokens).toBe(15);
  });

  it('rollback slots let a truncation reach further back', () => {
    const sizes = [4, 4, 4, 4, 4, 4, 4];
    const plain = simulate({ mode: 'streaming', nSinks: 2, windowSize: 6, maxChunk: 4 }, sizes).layout;
    const roomy = simulate({ mode: 'streaming', nSinks: 2, windowSize: 6, maxChunk: 4, rollbackSlots: 10 }, sizes).layout;
    expect(roomy.ringSize).toBe(plain.ringSize + 10);
    expect(plain.canTruncateTo(20)).toBe(false);
    expect(roomy.canTruncateTo(20)).toBe(true);
    expect(roomy.canTruncateTo(5)).toBe(false);
  });

  it('refuses chunks larger than the ring can serve, and dense overflow', () => {
    const layout = new RingLayout({ mode: 'streaming', nSinks: 4, windowSize: 16, maxChunk: 8 });
    expect(() => layout.planChunk(9)).toThrow(expect.objectContaining({ code: 'CHUNK_TOO_LARGE' }));
    expect(() => layout.planChunk(0)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    const dense = new RingLayout({ mode: 'dense', nSinks: 0, windowSize: 10, maxChunk: 8 });
    dense.commit(dense.planChunk(8));
    expect(() => dense.planChunk(3)).toThrow(expect.objectContaining({ code: 'CACHE_FULL' }));
  });

  it('refuses invalid settings with a reason', () => {
    const bad: RingConfig[] = [
      { mode: 'streaming', nSinks: 4, windowSize: 0, maxChunk: 8 },
      { mode: 'streaming', nSinks: -1, windowSize: 8, maxChunk: 8 },
      { mode: 'streaming', nSinks: 4, windowSize: 8, maxChunk: 0 },
      { mode: 'dense', nSinks: 0, windowSize: 8, maxChunk: 9 },
      { mode: 'streaming', nSinks: 16, windowSize: 8, maxChunk: 4 },
    ];
    for (const config of bad) {
      expect(() => new RingLayout(config)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    }
  });

  it('ignores sinks outside streaming mode', () => {
    expect(new RingLayout({ mode: 'window', nSinks: 4, windowSize: 8, maxChunk: 2 }).nSinks).toBe(0);
  });
});
