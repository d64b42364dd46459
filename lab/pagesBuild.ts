// The GitHub Pages build, as .github/workflows/pages.yml makes it (Vite's base set to /<repo>/), and
// vite preview serving it under that same path. Served from the root instead, the page asks for
// /<repo>/assets/… that the server does not have, and stays blank. Used by npm run preview:pages
// and its end-to-end test.

import { build, preview, type PreviewServer } from 'vite';
import { join } from 'node:path';
import { REPO_ROOT } from './browser.ts';

/** The path a project site of this repository has on GitHub Pages: https://<owner>.github.io/endless-chat/. */
export const PAGES_BASE = '/endless-chat/';

/** A base path as Vite wants it: with a slash at each end. */
export function normalBase(base: string): string {
  return `/${base.replace(/^\/+|\/+$/g, '')}/`.replace('//', '/');
}

export async function buildForPages(base: string, outDir: string): Promise<void> {
  await build({ root: REPO_ROOT, configFile: join(REPO_ROOT, 'vite.config.ts'), base, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
}

/** Serves `outDir` under `base`; port 0 takes a free one. */
export async function previewPages(base: string, outDir: string, port = 4173): Promise<{ server: PreviewServer; url: string }> {
  const server = await preview({
    root: REPO_ROOT, configFile: join(REPO_ROOT, 'vite.config.ts'), base, logLevel: 'warn', build: { outDir },
    preview: { host: 'localhost', port, strictPort: false },
  });
  const address = server.httpServer.address();
  if (!address || typeof address === 'string') throw new Error('vite preview did not report a port');
  return { server, url: `http://localhost:${address.port}${base}` };
}
