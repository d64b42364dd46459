// npm run bench: streaming decode cost against stream position, against sliding-window
// recomputation at the same cache size, against dense decoding with onnxruntime's own attention,
// where the time of a token goes, and what the decode-path optimisations bring; all measured in
// one run in headless Chromium on stories260K. On SwiftShader (no GPU) the times are CPU times:
// only ratios measured in the same run mean anything. Results go to eval/results/bench.{md,json}.
// tools/deno/bench.ts runs the same benchmark in Deno, for a machine with a GPU and no browser.
//
//   npm run bench -- [--tokens 1000000] [--sinks 4] [--window 252] [--recompute-samples 20]
//                    [--profile-tokens 200] [--pick-tokens 100] [--dense-positions 128,512,2048,8192]
//                    [--dense-tokens 20] [--tuning-tokens 100] [--hardware-gpu] [--out eval/results]

import { resolve } from 'node:path';
import { openPage, REPO_ROOT } from '../lab/browser.ts';
import { adapterName } from '../lab/gpuAdapter.ts';
import { STORIES260K_DIR } from '../lab/fixtures.ts';
import { describeModel } from '../lab/harnessJob.ts';
import { parseBenchArgs, runBench, type BenchDriver } from './benchRun.ts';
import { storyStream } from '../lab/storyStream.ts';

async function main(): Promise<void> {
  const values = parseBenchArgs(process.argv.slice(2));
  const browser = await openPage('lab/harness/index.html', { hardwareGpu: values['hardware-gpu'], extraArgs: ['--enable-precise-memory-info'] });
  try {
    const { page } = browser;
    await page.waitForFunction(() => window.harness !== undefined, null, { timeout: 60_000 });
    const driver: BenchDriver = {
      runtime: `Chromium ${page.context().browser()?.version() ?? '?'} (headless)`,
      adapter: () => page.evaluate(adapterName),
      benchAgainstDense: (job) => page.evaluate((j) => window.harness!.benchAgainstDense(j), job),
      benchTunings: (job) => page.evaluate((j) => window.harness!.benchTunings(j), job),
      benchDecode: (job) => page.evaluate((j) => window.harness!.benchDecode(j), job),
    };
    console.log(await runBench(driver, values, 'npm run bench --', describeModel(STORIES260K_DIR), storyStream(20000), resolve(REPO_ROOT, values.out)));
  } finally {
    await browser.close();
  }
}

main().catch((e: unknown) => {
  console.error((e as Error).message);
  process.exit(1);
});
