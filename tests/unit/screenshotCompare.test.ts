// The screenshot comparison of the e2e tests on drawn images: a moved panel fails it, a few
// glyph-edge pixels do not, and another size is reported as such.

import { describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import { compareImages } from '../e2e/screenshots.ts';

/** A 400x300 light screen with a dark panel at (x, y), 120x80, as PNG bytes; `edits` recolours single pixels. */
function screen(x: number, y: number, edits: [number, number][] = []): Buffer {
  const png = new PNG({ width: 400, height: 300 });
  for (let py = 0; py < 300; py++) {
    for (let px = 0; px < 400; px++) {
      const inPanel = px >= x && px < x + 120 && py >= y && py < y + 80;
      const i = (py * 400 + px) * 4;
      png.data.set(inPanel ? [30, 34, 40, 255] : [245, 246, 248, 255], i);
    }
  }
  for (const [px, py] of edits) png.data.set([120, 120, 120, 255], (py * 400 + px) * 4);
  return PNG.sync.write(png);
}

describe('compareImages', () => {
  it('finds no difference between equal screens', () => {
    expect(compareImages(screen(50, 40), screen(50, 40))).toMatchObject({ differing: 0, ok: true });
  });

  it('lets through a few stray pixels, as anti-aliasing makes them', () => {
    const strays = Array.from({ length: 100 }, (_, i): [number, number] => [(i * 37) % 400, (i * 53) % 300]);
    const result = compareImages(screen(50, 40, strays), screen(50, 40));
    expect(result.differing).toBeGreaterThan(0);
    expect(result.ok).toBe(true);
  });

  it('fails a panel moved by 4 pixels, and draws where', () => {
    const result = compareImages(screen(54, 40), screen(50, 40));
    expect(result.differing).toBe(2 * 4 * 80);
    expect(result.ok).toBe(false);
    const diff = PNG.sync.read(result.diff!);
    // pixelmatch paints differing pixels red.
    const at = (px: number, py: number) => [...diff.data.subarray((py * 400 + px) * 4, (py * 400 + px) * 4 + 3)];
    expect(at(51, 60)).toEqual([255, 0, 0]);
    expect(at(100, 60)).not.toEqual([255, 0, 0]);
  });

  it('reports another size without comparing pixels', () => {
    const other = new PNG({ width: 400, height: 301 });
    expect(compareImages(PNG.sync.write(other), screen(50, 40))).toEqual({ differing: -1, diff: null, ok: false });
  });
});
