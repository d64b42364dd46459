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
// still leaves its figures. The stream is stories260K's own seeded samples (lab/storyStream.ts), looped.
// tools/deno/soak.ts runs the same soak in Deno, for a machine with a GPU and no browser.
//
//   npm run soak -- [--tokens 1000000] [--chunk 64] [--sinks 4] [--window 252] [--every 10240]
//                   [--approx-positions 4] [--max-minutes 0] [--hardware-gpu] [--out eval/results]

import { resolve } from 'node:path';
import { openPage, REPO_ROOT } from '../lab/browser.ts';
import { pageSoakDriver, SOAK_PAGE, soakStream } from '../lab/soak/pageSoak.ts';
import { parseSoakArgs, soakCommand } from '../lab/soak/soakRun.ts';

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
