import { describe, expect, it } from 'vitest';
import { RecentIds } from '../../../src/engine/generate/recentIds.ts';
import { mulberry32 } from '../../../lab/random.ts';

const sorted = (ids: Iterable<number>) => [...ids].sort((a, b) => a - b);

describe('RecentIds', () => {
  it('holds the distinct ids among the last `window`, one push at a time, from streams given at the start', () => {
    const rand = mulberry32(5);
    for (const window of [0, 1, 2, 5, 64]) {
      for (const alphabet of [3, 20, 500]) {
        const history = Array.from({ length: Math.floor(rand() * 100) }, () => Math.floor(rand() * alphabet));
        const prompt = Array.from({ length: Math.floor(rand() * 10) }, () => Math.floor(rand() * alphabet));
        const stream = [...history, ...prompt];
        const recent = new RecentIds(window, history, prompt);
        const expectSame = () => expect(sorted(recent.distinct), `window ${window}, alphabet ${alphabet}, after ${stream.length}`).toEqual(sorted(new Set(window ? stream.slice(-window) : [])));
        expectSame();
        for (let i = 0; i < 300; i++) {
          const id = Math.floor(rand() * alphabet);
          stream.push(id);
          recent.push(id);
          expectSame();
        }
      }
    }
  });
});
