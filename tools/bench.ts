// npm run bench: streaming decode cost against stream position, against sliding-window
// recomputation at the same cache size, against dense decoding with onnxruntime's own attention,
// where the time of a token goes, the WebGPU work per token (counted, the same on every machine),
// and what the decode-path optimisations bring; all measured in one run in headless Chromium on
// stories260K (with --layers N, its layers repeated to depth N). On SwiftShader (no GPU) the times
// are CPU times: only ratios measured in the same run mean anything. Results go to
// eval/results/bench.{md,json}.
// With --shape all (or catalog ids, comma-separated) it runs instead the catalog's shapes
// (lab/shapeModels.ts) against onnxruntime's whole graph at the --dense-positions, into
// eval/results/bench-shapes.{md,json}.
// tools/deno/bench.ts runs the same benchmark in Deno; tools/benchGpu.ts (npm run bench:gpu) runs
// it on a machine with a GPU and no display.
//
//   npm run bench -- [--tokens 1000000] [--sinks 4] [--window 252] [--layers 24] [--recompute-samples 20]
//                    [--profile-tokens 200] [--pick-tokens 100] [--dense-positions 128,512,2048,8192]
//                    [--dense-tokens 20] [--tuning-tokens 100] [--count-tokens 16] [--hardware-gpu] [--out eval/results]
//   npm run bench -- --counts [--layers 24] [--count-tokens 16] [--tuning-tokens 100]: the work per token and graph capture only
//   npm run bench -- --shape all|qwen3-0.6b,... [--dense-positions 128,512,2048,8192] [--shape-tokens 3]
//                    [--shape-warm 1] [--shape-layers N] [--shape-mlp 256|published] [--shape-vocab 2048|published]

import { resolve } from 'node:path';
import { openPage, REPO_ROOT } from '../lab/browser.ts';
import { STORIES260K_DIR } from '../lab/fixtures.ts';
import { describeModel } from '../lab/harnessJob.ts';
import { parseBenchArgs, runBench } from './benchRun.ts';
import { pageDriver } from './benchPage.ts';
import { storyStream } from '../lab/storyStream.ts';

async function main(): Promise<void> {
  const values = parseBenchArgs(process.argv.slice(2));
  const browser = await openPage('lab/harness/index.html', { hardwareGpu: values['hardware-gpu'], extraArgs: ['--enable-precise-memory-info'] });
  try {
    const { page } = browser;
    const driver = await pageDriver(page, `Chromium ${page.context().browser()?.version() ?? '?'} (headless)`);
    console.log(await runBench(driver, values, 'npm run bench --', describeModel(STORIES260K_DIR), storyStream(20000), resolve(REPO_ROOT, values.out)));
  } finally {
    await browser.close();
  }
}

main().catch((e: unknown) => {
  console.error((e as Error).message);
  process.exit(1);
});
