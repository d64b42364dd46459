// npm run soak: streams a long token stream through the real engine (stories260K, streaming cache)
// in headless Chromium, fed in chunks, and checks at every checkpoint that
//   - every logit is finite;
//   - the live GPU buffers equal, and the JS heap (after a forced GC) stays within a tolerance of,
//     what they were at the first checkpoint, after the cache first filled;
//   - exact: an engine restored from the streaming engine's cache snapshot and fed the next chunk
//     gives the same logits as the streaming engine (bit-equal expected; fails above 1e-5);
//   - approximate: a fresh engine prefilled with only the visible tokens V(t) (the sinks and the
//     window, what rebuilding from the transcript does) predicts the same greedy next token at most
//     positions and a small KL(stream || fresh). It cannot be exact: the streaming engine computed
//     each window token's K/V when it arrived, with the context it had then (docs/architecture.md section 1).
// Results go to eval/results/soak.{md,json}, rewritten at every checkpoint, so a run cut short
// still leaves its figures. The stream is stories260K's own seeded samples (tools/eval), looped.
// tools/deno/soak.ts runs the same soak in Deno, for a machine with a GPU and no browser.
//
//   npm run soak -- [--tokens 1000000] [--chunk 64] [--sinks 4] [--window 252] [--every 10240]
//                   [--approx-positions 4] [--max-minutes 0] [--hardware-gpu] [--out eval/results]

import { resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { openPage, REPO_ROOT } from './browser.ts';
import { adapterName } from './gpuAdapter.ts';
import { STORIES260K_CHECKPOINT, STORIES260K_TOKENIZER } from './fixtures.ts';
import { storyStream } from './eval/storyStream.ts';
import { parseSoakArgs, soakCommand, type SoakDriver, type SoakStream } from './soakRun.ts';

export const SOAK_PAGE = 'tests/gpu/page/soak.html';

const fsUrl = (path: string) => `/@fs${resolve(path)}`;

/** stories260K and its own seeded samples, as the soak page fetches them from the dev server. */
export const soakStream = (): SoakStream => ({
  model: { checkpoint: fsUrl(STORIES260K_CHECKPOINT), tokenizer: fsUrl(STORIES260K_TOKENIZER) },
  ids: storyStream(20000),
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

async function main(): Promise<void> {
  const line = parseSoakArgs(process.argv.slice(2), 'npm run soak --');
  const browser = await openPage(SOAK_PAGE, { hardwareGpu: line.hardwareGpu });
  let passed: boolean;
  try {
    await browser.page.waitForFunction(() => window.soak !== undefined, null, { timeout: 60_000 });
    passed = await soakCommand(pageSoakDriver(browser.page), line, soakStream(), resolve(REPO_ROOT, line.out));
  } finally {
    await browser.close();
  }
  if (!passed) process.exit(1);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e: unknown) => {
    console.error((e as Error).message);
    process.exit(1);
  });
}
