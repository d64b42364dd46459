// npm run bench:first-reply: how long the first reply after a load waits for its first token,
// against the second, with the decoder warmed up during the load (the app) and without, all in
// one run in headless Chromium on the built-in stories260K. Only the ratios mean anything on
// SwiftShader; results go to eval/results/first-reply.md.
//
//   npm run bench:first-reply -- [--runs 3] [--hardware-gpu] [--out eval/results]

import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { openPage, REPO_ROOT } from '../lab/browser.ts';
import { adapterName } from '../lab/gpuAdapter.ts';
import { STORIES260K_DIR } from '../lab/fixtures.ts';
import { describeModel } from '../lab/harnessJob.ts';
import type { FirstReplies, FirstRepliesJob } from '../lab/harness/main.ts';
import { STORY_KV_CACHE_DTYPE } from '../src/protocol/cache.ts';
import { STORY_MODEL_CACHE, STORY_MODEL_SETTINGS, samplingOf } from '../src/features/settings/settings.ts';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '3' }, 'hardware-gpu': { type: 'boolean', default: false }, out: { type: 'string', default: 'eval/results' } },
});

const job = (warmUp: boolean): FirstRepliesJob => ({
  model: describeModel(STORIES260K_DIR),
  cache: { mode: 'streaming', nSinks: STORY_MODEL_SETTINGS.nSinks, windowSize: STORY_MODEL_SETTINGS.windowSize, ...STORY_MODEL_CACHE, dtype: STORY_KV_CACHE_DTYPE },
  sampling: samplingOf(STORY_MODEL_SETTINGS, 1),
  message: 'Once upon a time, there was a little dog named Max who loved to run in the park with his friends.',
  maxTokens: 8,
  warmUp,
});

const browser = await openPage('lab/harness/index.html', { hardwareGpu: values['hardware-gpu'] });
try {
  const { page } = browser;
  await page.waitForFunction(() => window.harness !== undefined, null, { timeout: 60_000 });
  const adapter = await page.evaluate(adapterName);
  const rows: { warmUp: boolean; result: FirstReplies }[] = [];
  // Alternating, so that both arms meet the same machine load.
  for (let run = 0; run < Number(values.runs); run++) {
    for (const warmUp of [true, false]) rows.push({ warmUp, result: await page.evaluate((j) => window.harness!.firstReplies(j), job(warmUp)) });
  }
  const f = (x: number) => x.toFixed(0);
  const md = [
    '# Time to first token after a load: stories260K',
    '',
    `Adapter: ${adapter}. ${new Date().toISOString().slice(0, 16)} UTC. Command: \`npm run bench:first-reply -- --runs ${values.runs}${values['hardware-gpu'] ? ' --hardware-gpu' : ''}\`.`,
    'Each run loads the model through the engine as the app does and sends the same message as the first message of two new',
    'conversations. "warmed up": the load runs a prefill chunk, a token and a token pick (the app); "cold": it does not.',
    '',
    '| load | load ms | first reply TTFT ms | second reply TTFT ms | first / second |',
    '|---|---|---|---|---|',
    ...rows.map(({ warmUp, result: r }) =>
      `| ${warmUp ? 'warmed up' : 'cold'} | ${f(r.loadMs)} | ${f(r.timeToFirstTokenMs[0])} | ${f(r.timeToFirstTokenMs[1])} | ${(r.timeToFirstTokenMs[0] / r.timeToFirstTokenMs[1]).toFixed(2)}x |`,
    ),
    '',
    `Prefill: ${rows[0].result.prefillTokens[0]} tokens per reply.`,
  ].join('\n');
  const out = resolve(REPO_ROOT, values.out);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'first-reply.md'), md + '\n');
  console.log(md);
} finally {
  await browser.close();
}
