// Problem 11 of issue 20: the GitHub Pages build (base /<repo>/) previews as a blank page with plain
// `vite preview`. npm run preview:pages builds it as the workflow does and serves it under its base
// path, where the page loads its script and draws the app; served from the root, the same build's
// script is not found.

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHROMIUM_ARGS, REPO_ROOT } from '../../lab/browser.ts';
import { buildApp, PAGES_BASE, previewApp } from '../../lab/appBuild.ts';

let outDir: string;
let browser: Browser;

beforeAll(async () => {
  outDir = await mkdtemp(join(tmpdir(), 'pages-dist-'));
  await buildApp(outDir, PAGES_BASE);
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
});

afterAll(async () => {
  await browser?.close();
  if (outDir) await rm(outDir, { recursive: true, force: true });
});

/** Opens `url`; says whether the app drew its header, and which of the page's own requests failed. */
async function open(url: string, wait: number): Promise<{ drawn: boolean; failed: string[] }> {
  const page = await browser.newPage();
  const failed: string[] = [];
  page.on('response', (r) => r.status() >= 400 && failed.push(`${r.status()} ${new URL(r.url()).pathname}`));
  await page.goto(url);
  const drawn = await page.getByRole('heading', { name: 'Endless Chat' }).waitFor({ timeout: wait }).then(() => true, () => false);
  await page.close();
  return { drawn, failed };
}

describe('npm run preview:pages', () => {
  it('is the script that builds with the Pages base and previews it', async () => {
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts['preview:pages']).toBe('tsx tools/previewPages.ts');
    expect(await readFile(join(outDir, 'index.html'), 'utf8')).toMatch(new RegExp(`<script type="module" crossorigin src="${PAGES_BASE}assets/`));
  });

  it("is the production build users get, here and for every end-to-end test, though vitest's NODE_ENV is \"test\"", async () => {
    // React's development build keeps an Error per element for its stack (_debugStack): a heap that
    // grows by the turn, and a different app from the one users run.
    const developmentOnly = async (dir: string) => {
      const assets = join(dir, 'assets');
      const scripts = (await readdir(assets)).filter((f) => f.endsWith('.js'));
      expect(scripts.length).toBeGreaterThan(0);
      return (await Promise.all(scripts.map(async (f) => (await readFile(join(assets, f), 'utf8')).includes('_debugStack') ? f : null))).filter(Boolean);
    };
    expect(process.env.NODE_ENV).toBe('test');
    expect(await developmentOnly(outDir)).toEqual([]);
    expect(await developmentOnly(inject('e2eDist'))).toEqual([]);
  });

  it('serves the build under its base path, where the page loads its script and draws the app', async () => {
    const { server, url } = await previewApp(outDir, PAGES_BASE);
    try {
      expect(url.endsWith(PAGES_BASE)).toBe(true);
      const { drawn, failed } = await open(url, 30_000);
      expect(failed).toEqual([]);
      expect(drawn).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('shows why: the same build served from the root (plain vite preview) finds no script and stays blank', async () => {
    const { server, url } = await previewApp(outDir, '/');
    try {
      // Given the seconds the app takes to draw under its base path, and more.
      const { drawn, failed } = await open(url, 8_000);
      expect(failed.some((f) => f.startsWith(`404 ${PAGES_BASE}assets/`))).toBe(true);
      expect(drawn).toBe(false);
    } finally {
      await server.close();
    }
  });
});
