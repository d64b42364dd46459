// The benchmark driver for a browser tab: the harness page's benchmarks run in a Playwright page
// (tools/bench.ts in the system's headless Chromium, tools/benchGpu.ts in Chrome's own).

import type { Page } from 'playwright-core';
import { adapterName } from '../lab/gpuAdapter.ts';
import type { BenchDriver } from './benchRun.ts';

/** Waits for the harness page in `page` to be ready; `runtime` names the browser. */
export async function pageDriver(page: Page, runtime: string): Promise<BenchDriver> {
  await page.waitForFunction(() => window.harness !== undefined, null, { timeout: 60_000 });
  return {
    runtime,
    adapter: () => page.evaluate(adapterName),
    benchAgainstDense: (job) => page.evaluate((j) => window.harness!.benchAgainstDense(j), job),
    benchTunings: (job) => page.evaluate((j) => window.harness!.benchTunings(j), job),
    benchDecode: (job) => page.evaluate((j) => window.harness!.benchDecode(j), job),
    benchCounts: (job) => page.evaluate((j) => window.harness!.benchCounts(j), job),
    benchShape: (job) => page.evaluate((j) => window.harness!.benchShape(j), job),
  };
}
