// npm run harness -- job.json: runs one scoring or generation job through the engine in headless
// Chromium and prints one JSON object as the last line of stdout. Invalid jobs exit with status 2
// and a one-line reason; engine failures exit with status 1.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { openPage } from '../lab/browser.ts';
import { toPageJob, validateJob, type PageJob } from '../lab/harnessJob.ts';

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
