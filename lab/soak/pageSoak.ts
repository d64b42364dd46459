// The soak page (lab/soak/soak.html) driven from Node through a browser tab, and the stream it is
// fed there: what tools/soak.ts and tests/gpu/soak.test.ts run; tools/deno/soak.ts drives the same
// page module in Deno instead.

import { resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { adapterName } from '../gpuAdapter.ts';
import { STORIES260K_CHECKPOINT, STORIES260K_TOKENIZER } from '../fixtures.ts';
import { storyStream } from '../storyStream.ts';
import type { SoakDriver, SoakStream } from './soakRun.ts';

export const SOAK_PAGE = 'lab/soak/soak.html';

const fsUrl = (path: string) => `/@fs${resolve(path)}`;

/** stories260K and at least `tokens` of its own seeded samples (looped beyond them), as the soak
 *  page fetches them from the dev server. Sampling costs about 7 ms a token on a clean clone. */
export const soakStream = (tokens = 20000): SoakStream => ({
  model: { checkpoint: fsUrl(STORIES260K_CHECKPOINT), tokenizer: fsUrl(STORIES260K_TOKENIZER) },
  ids: storyStream(tokens),
});

/** The soak page in a browser tab; the heap is measured over CDP, so the page needs no flags. */
export function pageSoakDriver(page: Page): SoakDriver {
  const cdp = page.context().newCDPSession(page);
  return {
    adapter: () => page.evaluate(adapterName),
    async heap() {
      const session = await cdp;
      await session.send('HeapProfiler.collectGarbage');
      return (await session.send('Runtime.getHeapUsage')).usedSize;
    },
    start: (job) => page.evaluate((j) => window.soak!.start(j), job),
    advance: (tokens) => page.evaluate((n) => window.soak!.advance(n), tokens),
    finish: () => page.evaluate(() => window.soak!.finish()),
  };
}
