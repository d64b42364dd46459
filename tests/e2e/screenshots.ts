// Screenshots of the app's main screens compared with references committed in
// tests/e2e/screenshots/, so a layout break fails a test. Every screenshot is also written to
// test-results/screenshots/; a mismatch adds <name>.diff.png there (differing pixels in red) and
// names it in the failure. UPDATE_SCREENSHOTS=1 rewrites the references from the current run.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Page } from 'playwright-core';
import pixelmatch from 'pixelmatch';
import { PNG } from 'pngjs';
import { REPO_ROOT } from '../../lab/browser.ts';

export const REFERENCE_DIR = join(REPO_ROOT, 'tests', 'e2e', 'screenshots');
export const OUTPUT_DIR = join(REPO_ROOT, 'test-results', 'screenshots');

/** What a conversation shows that differs run to run: sampled text, timings, the token counts they
 *  make, and dates; hidden by the screens that show a conversation. */
export const RUN_TO_RUN = ['.messages', '.cache-picture', '.cache-facts', '.memory-summary', '.latency-chart', '.conversation-date'];

/** pixelmatch's per-pixel colour distance (0..1) under which two pixels count as the same: anti-aliasing. */
const PIXEL_THRESHOLD = 0.1;
/** Share of pixels that may differ: glyph edges and rounding, far below a moved or resized panel. */
const MAX_DIFF_RATIO = 0.002;

export interface ImageComparison {
  /** Pixels that differ beyond PIXEL_THRESHOLD; -1 when the sizes differ. */
  differing: number;
  /** Those pixels in red over a faded copy of the reference; null when the sizes differ. */
  diff: Buffer | null;
  ok: boolean;
}

/** Compares two PNGs of a screen. */
export function compareImages(actual: Buffer, reference: Buffer): ImageComparison {
  const [a, b] = [PNG.sync.read(actual), PNG.sync.read(reference)];
  if (a.width !== b.width || a.height !== b.height) return { differing: -1, diff: null, ok: false };
  const diff = new PNG({ width: a.width, height: a.height });
  const differing = pixelmatch(b.data, a.data, diff.data, a.width, a.height, { threshold: PIXEL_THRESHOLD });
  return { differing, diff: PNG.sync.write(diff), ok: differing <= MAX_DIFF_RATIO * a.width * a.height };
}

export interface ScreenOptions {
  /**
   * Selectors of what changes from run to run (model text, timings, counts): made invisible for the
   * screenshot, their boxes kept, so the layout around them is still compared and a dialog over
   * them still shows.
   */
  hide?: string[];
}

/**
 * Takes a screenshot of the page (animations finished, caret hidden, run-to-run parts hidden) and compares it
 * with tests/e2e/screenshots/<name>.png; throws naming the diff image when they differ.
 */
export async function expectScreen(page: Page, name: string, options: ScreenOptions = {}): Promise<void> {
  await mkdir(OUTPUT_DIR, { recursive: true });
  const actualPath = join(OUTPUT_DIR, `${name}.png`);
  // Hidden through the CSSOM: the app's Content-Security-Policy refuses the stylesheet that
  // Playwright's `style` option would inject.
  const hide = (hidden: boolean) =>
    page.evaluate(
      ([selectors, on]) => {
        for (const element of document.querySelectorAll<HTMLElement>(selectors.join(', '))) {
          if (on) element.style.setProperty('visibility', 'hidden', 'important');
          else element.style.removeProperty('visibility');
        }
      },
      [options.hide ?? [], hidden] as const,
    );
  if (options.hide?.length) await hide(true);
  const png = await page.screenshot({ path: actualPath, animations: 'disabled', caret: 'hide' }).finally(() => (options.hide?.length ? hide(false) : undefined));
  const referencePath = join(REFERENCE_DIR, `${name}.png`);
  const shown = (path: string) => relative(REPO_ROOT, path);
  if (process.env.UPDATE_SCREENSHOTS === '1') {
    await mkdir(REFERENCE_DIR, { recursive: true });
    await writeFile(referencePath, png);
    return;
  }
  const reference = await readFile(referencePath).catch(() => null);
  if (!reference) throw new Error(`No reference screenshot ${shown(referencePath)}: run with UPDATE_SCREENSHOTS=1, look at it, and commit it.`);
  const result = compareImages(png, reference);
  if (result.ok) return;
  if (!result.diff) {
    const [a, b] = [PNG.sync.read(png), PNG.sync.read(reference)];
    throw new Error(`Screenshot ${name} is ${a.width}x${a.height}, its reference ${b.width}x${b.height}; see ${shown(actualPath)}.`);
  }
  const diffPath = join(OUTPUT_DIR, `${name}.diff.png`);
  await writeFile(diffPath, result.diff);
  throw new Error(
    `Screenshot ${name} differs from ${shown(referencePath)} in ${result.differing} pixels ` +
      `(${((100 * result.differing) / (PNG.sync.read(png).width * PNG.sync.read(png).height)).toFixed(2)}%, at most ${100 * MAX_DIFF_RATIO}% allowed): ` +
      `see ${shown(diffPath)} and ${shown(actualPath)}. If the change is intended, UPDATE_SCREENSHOTS=1 rewrites the references.`,
  );
}
