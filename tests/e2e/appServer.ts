// The built app for the end-to-end tests: the build globalSetup.ts made, served by vite preview (a
// secure context), a stand-in hub on the ports that build knows (serving stories260K as
// karpathy/tinyllamas does, plus any repos a test adds), and headless Chromium with WebGPU
// (SwiftShader) to open it.

import { chromium, type Browser } from 'playwright-core';
import { inject } from 'vitest';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { previewApp } from '../../lab/appBuild.ts';
import { CHROMIUM_ARGS } from '../../lab/browser.ts';
import { STORIES260K_CHECKPOINT, STORIES260K_TOKENIZER } from '../../lab/fixtures.ts';
import { startHubServer, type HubFixtureRepo, type HubServer } from '../../lab/hubServer.ts';

export interface ServedApp {
  url: string;
  hub: HubServer;
  browser: Browser;
  close(): Promise<void>;
}

export async function tinyllamasRepo(): Promise<HubFixtureRepo> {
  return {
    id: 'karpathy/tinyllamas',
    files: [
      { path: 'stories260K/stories260K.bin', bytes: new Uint8Array(await readFile(STORIES260K_CHECKPOINT)), lfs: true },
      { path: 'stories260K/tok512.bin', bytes: new Uint8Array(await readFile(STORIES260K_TOKENIZER)), lfs: true },
    ],
  };
}

/**
 * A model folder exported by the project's exporter, laid out as onnx-community publishes one:
 * the graph and its external data under onnx/, the JSON files at the top. `replace` swaps files
 * by path (another graph, a tokenizer_config.json with a chat template).
 */
export async function onnxExportRepo(id: string, folder: string, replace: Record<string, Uint8Array | string> = {}): Promise<HubFixtureRepo> {
  const files = [];
  for (const name of await readdir(folder)) {
    const path = name.startsWith('model.onnx') ? `onnx/${name}` : name;
    const given = replace[path];
    const bytes = given === undefined ? new Uint8Array(await readFile(join(folder, name))) : typeof given === 'string' ? new TextEncoder().encode(given) : given;
    files.push({ path, bytes, lfs: path.startsWith('onnx/') || path === 'tokenizer.json' });
  }
  return { id, files };
}

/** Serves the app; the hub holds karpathy/tinyllamas and `extraRepos`. */
export async function buildAndServe(extraRepos: HubFixtureRepo[] = []): Promise<ServedApp> {
  const hub = await startHubServer([await tinyllamasRepo(), ...extraRepos], {
    // Slow enough that the download progress is on screen for a moment.
    bytesPerSecond: 1_000_000,
    lifetimeMs: 1_800_000,
    hubPort: inject('hubPort'),
    cdnPort: inject('cdnPort'),
  });
  const { server, url } = await previewApp(inject('e2eDist'));
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  return {
    url,
    hub,
    browser,
    async close() {
      await browser.close();
      await server.close();
      await hub.close();
    },
  };
}
