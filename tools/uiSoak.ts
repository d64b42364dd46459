// npm run ui-soak: drives the built app through hundreds of chat turns in one conversation with
// stories260K (loaded from local files, short replies), in headless Chromium. Every turn must end
// in a finished reply with no page error or console error; the JS heaps of the engine worker and of
// the page, measured over CDP after a forced GC, may grow after the warm-up turns only by a fixed
// slack plus a small bound per turn (both keep the transcript, which grows); after a reload every
// message is still there. Results go to eval/results/ui-soak.{md,json}.
//
//   npm run ui-soak -- [--turns 300] [--max-tokens 16] [--out eval/results]

import { chromium } from 'playwright-core';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildApp, previewApp } from '../lab/appBuild.ts';
import { CHROMIUM_ARGS, REPO_ROOT } from '../lab/browser.ts';
import { runUiSoak, uiSoakFailures, uiSoakReport, uiSoakTurnLine, type UiSoakOptions, type UiSoakResult } from '../lab/uiSoak.ts';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      turns: { type: 'string', default: '300' },
      'max-tokens': { type: 'string', default: '16' },
      dist: { type: 'string', default: '.cache/ui-soak-dist' },
      out: { type: 'string', default: 'eval/results' },
    },
  });
  const options: UiSoakOptions = { turns: Number(values.turns), maxTokens: Number(values['max-tokens']) };
  const command = `npm run ui-soak -- --turns ${options.turns} --max-tokens ${options.maxTokens}`;
  const outDir = resolve(REPO_ROOT, values.dist);
  await buildApp(outDir);
  const { server, url } = await previewApp(outDir);
  const out = resolve(REPO_ROOT, values.out);
  mkdirSync(out, { recursive: true });
  const write = (result: UiSoakResult) => {
    writeFileSync(join(out, 'ui-soak.md'), uiSoakReport(result, command) + '\n');
    writeFileSync(join(out, 'ui-soak.json'), JSON.stringify({ command, ...result, failures: uiSoakFailures(result) }) + '\n');
  };
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  let result: UiSoakResult;
  try {
    result = await runUiSoak(browser, url, options, (r) => {
      const t = r.turns[r.turns.length - 1];
      if (t && !r.persisted) {
        console.log(`${new Date().toISOString().slice(11, 19)} ${uiSoakTurnLine(t)}`);
        if (t.turn % 10 === 0) write(r);
      }
    });
  } finally {
    await browser.close();
    await server.close();
  }
  write(result);
  console.log(uiSoakReport(result, command));
  if (uiSoakFailures(result).length > 0) process.exit(1);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e: unknown) => {
    console.error((e as Error).message);
    process.exit(1);
  });
}
