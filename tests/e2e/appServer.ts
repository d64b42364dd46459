// The built app for the end-to-end tests: a stand-in hub on localhost serving stories260K as
// karpathy/tinyllamas does, the app built against it into .cache/e2e-dist and served by vite
// preview (a secure context), and headless Chromium with WebGPU (SwiftShader) to open it.

import { chromium, type Browser } from 'playwright-core';
import { build, preview } from 'vite';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CHROMIUM_ARGS, REPO_ROOT } from '../../tools/browser.ts';
import { STORIES260K_CHECKPOINT, STORIES260K_TOKENIZER } from '../../tools/fixtures.ts';
import { startHubServer, type HubServer } from '../../tools/hubServer.ts';

export interface ServedApp {
  url: string;
  hub: HubServer;
  browser: Browser;
  close(): Promise<void>;
}

export async function buildAndServe(): Promise<ServedApp> {
  const hub = await startHubServer(
    [
      {
        id: 'karpathy/tinyllamas',
        files: [
          { path: 'stories260K/stories260K.bin', bytes: new Uint8Array(await readFile(STORIES260K_CHECKPOINT)), lfs: true },
          { path: 'stories260K/tok512.bin', bytes: new Uint8Array(await readFile(STORIES260K_TOKENIZER)), lfs: true },
        ],
      },
    ],
    // Slow enough that the download progress is on screen for a moment.
    { bytesPerSecond: 1_000_000, lifetimeMs: 900_000 },
  );
  const configFile = join(REPO_ROOT, 'vite.config.ts');
  const outDir = join(REPO_ROOT, '.cache', 'e2e-dist');
  process.env.VITE_HUB_URL = hub.hubUrl;
  await build({ root: REPO_ROOT, configFile, base: '/', logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  const server = await preview({ root: REPO_ROOT, configFile, base: '/', logLevel: 'warn', build: { outDir }, preview: { host: 'localhost', port: 0, strictPort: false } });
  const address = server.httpServer.address();
  if (!address || typeof address === 'string') throw new Error('vite preview did not report a port');
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  return {
    url: `http://localhost:${address.port}/`,
    hub,
    browser,
    async close() {
      await browser.close();
      await server.close();
      await hub.close();
    },
  };
}
