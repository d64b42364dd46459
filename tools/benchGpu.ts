// npm run bench:gpu: the benchmark on a machine with a GPU and no display, in one command within
// 8 minutes, offline once npm has installed the repository. In Chrome's own WebGPU (Dawn; the
// headless Chrome of @sparticuz/chromium, tools/chromeBuild.ts) and in Deno (wgpu) where a deno
// binary is on PATH: the WebGPU work per token of stories260K at 24 layers (Qwen2.5-0.5B's depth),
// ours against onnxruntime's whole graph, and ms per token at the catalog's shapes from 128 to 8K
// (tools/benchRun.ts runGpuSuite). Writes eval/results/bench-gpu.{md,json}. Where Dawn finds no GPU
// it runs on SwiftShader, and the report says so.
//
//   npm run bench:gpu -- [--short] [--swiftshader] [--out eval/results]
//
// --short: a few minutes on SwiftShader (stories260K at its 5 layers, the shapes cut to 2 layers,
// positions 128 and 1024, one timed token each), to try the command on a machine without a GPU.
// --swiftshader: Chrome on SwiftShader even where a GPU is present.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { openPage, REPO_ROOT } from '../lab/browser.ts';
import { STORIES260K_DIR } from '../lab/fixtures.ts';
import { describeModel } from '../lab/harnessJob.ts';
import { storyStream } from '../lab/storyStream.ts';
import { pageDriver } from './benchPage.ts';
import { gpuSuiteSection, machineText, minutes, runGpuSuite, type GpuSuiteResult } from './benchRun.ts';
import { CHROME_BUILD_DIR, CHROME_BUILD_VERSION, chromeBuild } from './chromeBuild.ts';

const LIMIT_MS = 8 * 60_000;
/** When the last shape may start in Chrome, with and without a Deno part to leave time for. */
const CHROME_SHAPES_UNTIL_MS = { withDeno: 4 * 60_000, alone: 6.5 * 60_000 };
const DENO_SHAPES_UNTIL_MS = 7 * 60_000;

const { values } = parseArgs({
  options: { short: { type: 'boolean', default: false }, swiftshader: { type: 'boolean', default: false }, out: { type: 'string', default: 'eval/results' } },
});
const start = Date.now();
const log = (line: string) => console.error(`[${((Date.now() - start) / 1000).toFixed(0)} s] ${line}`);
const hasDeno = spawnSync('deno', ['--version'], { stdio: 'ignore' }).status === 0;

async function chromePart(): Promise<GpuSuiteResult> {
  const build = await chromeBuild({ swiftshader: values.swiftshader });
  log(`Chrome ${CHROME_BUILD_VERSION} unpacked`);
  const browser = await openPage('lab/harness/index.html', { chromium: build });
  try {
    const version = browser.page.context().browser()?.version() ?? CHROME_BUILD_VERSION;
    const driver = await pageDriver(browser.page, `Chrome ${version} (headless, @sparticuz/chromium ${CHROME_BUILD_VERSION}, Dawn)`);
    const deadline = values.short ? Infinity : start + (hasDeno ? CHROME_SHAPES_UNTIL_MS.withDeno : CHROME_SHAPES_UNTIL_MS.alone);
    return await runGpuSuite(driver, { model: describeModel(STORIES260K_DIR), ids: storyStream(20000) }, { short: values.short, deadline }, log);
  } finally {
    await browser.close();
  }
}

/** The same suite in Deno, or why it did not run. Deno's wgpu gets the Vulkan loader unpacked
 *  with Chrome (a bare GPU machine may have none), and SwiftShader's Vulkan driver where Chrome
 *  found no GPU either. */
function denoPart(chromeAdapter: string): GpuSuiteResult | string {
  if (!hasDeno) return 'Skipped: no `deno` binary on PATH.';
  const bundle = join(REPO_ROOT, '.cache', 'deno-gpu');
  const built = spawnSync('npm', ['run', 'bundle:deno', '--', '--out', bundle], { cwd: REPO_ROOT, stdio: 'inherit' });
  if (built.status !== 0) return `Skipped: npm run bundle:deno failed (exit ${built.status}).`;
  const out = mkdtempSync(join(tmpdir(), 'bench-gpu-deno-'));
  try {
    const args = ['run', '-A', join(bundle, 'bench-gpu.js'), ...(values.short ? ['--short'] : ['--deadline', String(start + DENO_SHAPES_UNTIL_MS)]), '--out', out];
    const env: Record<string, string | undefined> = { ...process.env, LD_LIBRARY_PATH: [CHROME_BUILD_DIR, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') };
    if (values.swiftshader || /swiftshader/i.test(chromeAdapter)) env.VK_ICD_FILENAMES = join(CHROME_BUILD_DIR, 'vk_swiftshader_icd.json');
    const ran = spawnSync('deno', args, { cwd: REPO_ROOT, env, stdio: 'inherit', timeout: values.short ? undefined : Math.max(60_000, start + LIMIT_MS - Date.now()) });
    const suite = join(out, 'suite.json');
    if (ran.status !== 0 || !existsSync(suite)) return `Failed: deno exited with ${ran.status ?? ran.signal}.`;
    return JSON.parse(readFileSync(suite, 'utf8')) as GpuSuiteResult;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

const chrome = await chromePart();
const deno = denoPart(chrome.adapter);
const wallMs = Date.now() - start;
const command = `npm run bench:gpu${values.short ? ' -- --short' : ''}${values.swiftshader ? `${values.short ? '' : ' --'} --swiftshader` : ''}`;
const md = [
  '# Decode benchmark: npm run bench:gpu',
  '',
  `Machine: ${machineText()}. ${new Date().toISOString().slice(0, 16)} UTC. Command: \`${command}\`. The whole run took ${minutes(wallMs)}${values.short ? '' : ` (limit ${minutes(LIMIT_MS)})`}.`,
  '',
  ...gpuSuiteSection(chrome),
  '',
  ...(typeof deno === 'string' ? ['## Deno', '', deno] : gpuSuiteSection(deno)),
].join('\n');
const out = resolve(REPO_ROOT, values.out);
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'bench-gpu.md'), md + '\n');
writeFileSync(join(out, 'bench-gpu.json'), JSON.stringify({ command, machine: machineText(), wallMs, chrome, deno }) + '\n');
console.log(md);
