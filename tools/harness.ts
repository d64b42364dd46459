// npm run harness -- job.json: runs one scoring or generation job through the engine in headless
// Chromium and prints one JSON object as the last line of stdout. Invalid jobs exit with status 2
// and a one-line reason; engine failures exit with status 1.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { openPage, REPO_ROOT } from '../lab/browser.ts';
import { validateJob, type HarnessJob, type PageJob } from '../lab/harnessJob.ts';

/** URL under which the Vite dev server serves an absolute path of this machine. */
const fsUrl = (path: string) => `/@fs${resolve(path)}`;

/** The page's view of a model folder: an ONNX export (possibly under onnx/) or a llama2.c checkpoint. */
export function describeModel(folder: string, onnxFile?: string): PageJob['model'] {
  const dir = isAbsolute(folder) ? folder : resolve(REPO_ROOT, folder);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`invalid job: model folder ${dir} does not exist`);
  const files: Record<string, string> = {};
  for (const sub of ['', 'onnx/']) {
    const d = join(dir, sub);
    if (!existsSync(d)) continue;
    for (const name of readdirSync(d)) if (statSync(join(d, name)).isFile()) files[sub + name] = fsUrl(join(d, name));
  }
  if (onnxFile && !files[onnxFile]) throw new Error(`invalid job: ${dir} has no ${onnxFile}`);
  if (Object.keys(files).some((n) => n.endsWith('.onnx'))) return { kind: 'onnx', files, onnxFile };
  const names = Object.keys(files);
  const tokenizer = names.find((n) => /^tok.*\.bin$/.test(n));
  const checkpoint = names.find((n) => n.endsWith('.bin') && n !== tokenizer);
  if (!tokenizer || !checkpoint) throw new Error(`invalid job: ${dir} holds neither an .onnx model nor a llama2.c checkpoint with its tok*.bin tokenizer`);
  return { kind: 'llama2c', checkpoint: files[checkpoint], tokenizer: files[tokenizer] };
}

export function toPageJob(job: HarnessJob, jobDir: string): PageJob {
  let score = job.score;
  if (job.scoreFile) {
    const path = isAbsolute(job.scoreFile) ? job.scoreFile : resolve(jobDir, job.scoreFile);
    if (!existsSync(path)) throw new Error(`invalid job: scoreFile ${path} does not exist`);
    score = validateJob({ ...job, scoreFile: undefined, score: JSON.parse(readFileSync(path, 'utf8')) }).score;
  }
  return { model: describeModel(job.model, job.onnxFile), mode: job.mode, cache: job.cache, chunk: job.chunk, score, generate: job.generate };
}

async function main(): Promise<number> {
  const path = process.argv[2];
  let pageJob: PageJob;
  try {
    if (!path) throw new Error('usage: npm run harness -- job.json');
    const job = validateJob(JSON.parse(readFileSync(path, 'utf8')));
    pageJob = toPageJob(job, resolve(path, '..'));
  } catch (e) {
    console.error((e as Error).message.split('\n')[0]);
    return 2;
  }
  const browser = await openPage('lab/harness/index.html');
  try {
    await browser.page.waitForFunction(() => window.harness !== undefined, null, { timeout: 60_000 });
    const result = await browser.page.evaluate((j) => window.harness!.run(j), pageJob);
    console.log(JSON.stringify(result));
    return 0;
  } catch (e) {
    console.error(`harness failed: ${(e as Error).message.split('\n')[0]}`);
    return 1;
  } finally {
    await browser.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.exit(await main());
