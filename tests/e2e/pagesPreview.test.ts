// Problem 11 of issue 20: the GitHub Pages build (base /<repo>/) previews as a blank page with plain
// `vite preview`. npm run preview:pages builds it as the workflow does and serves it under its base
// path, where the page loads its script and draws the app; served from the root, the same build's
// script is not found.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHROMIUM_ARGS, REPO_ROOT } from '../../lab/browser.ts';
import { buildForPages, PAGES_BASE, previewPages } from '../../lab/pagesBuild.ts';

let outDir: string;
let browser: Browser;

beforeAll(async () => {
  outDir = await mkdtemp(join(tmpdir(), 'pages-dist-'));
  await buildForPages(PAGES_BASE, outDir);
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

  it('serves the build under its base path, where the page loads its script and draws the app', async () => {
    const { server, url } = await previewPages(PAGES_BASE, outDir, 0);
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
    const { server, url } = await previewPages('/', outDir, 0);
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
