// The app as users get it: Vite's production build (base `/` for a server of its own, /<repo>/ for
// GitHub Pages, as .github/workflows/pages.yml makes it) and vite preview serving it under that
// base. Served from the root instead, a Pages build asks for /<repo>/assets/… that the server does
// not have, and stays blank. Used by the end-to-end tests, the UI soak and npm run preview:pages.

import { build, preview, type PreviewServer } from 'vite';
import { join } from 'node:path';
import { REPO_ROOT } from './browser.ts';

/** The path a project site of this repository has on GitHub Pages: https://<owner>.github.io/endless-chat/. */
export const PAGES_BASE = '/endless-chat/';

/** A base path as Vite wants it: with a slash at each end. */
export function normalBase(base: string): string {
  return `/${base.replace(/^\/+|\/+$/g, '')}/`.replace('//', '/');
}

/** Builds the app into `outDir` for production. Vitest sets NODE_ENV to "test", and Vite then
 *  bundles React's development build (every element keeps an Error for its stack: the UI soak's
 *  page objects grew 68 KiB a turn instead of 18); the build users get is made with NODE_ENV
 *  "production", so it is set here for the build and put back after. */
export async function buildApp(outDir: string, base = '/'): Promise<void> {
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({ root: REPO_ROOT, configFile: join(REPO_ROOT, 'vite.config.ts'), base, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  } finally {
    if (nodeEnv === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = nodeEnv;
  }
}

/** Serves `outDir` under `base`; port 0 takes a free one. */
export async function previewApp(outDir: string, base = '/', port = 0): Promise<{ server: PreviewServer; url: string }> {
  const server = await preview({
    root: REPO_ROOT, configFile: join(REPO_ROOT, 'vite.config.ts'), base, logLevel: 'warn', build: { outDir },
    preview: { host: 'localhost', port, strictPort: false },
  });
  const address = server.httpServer.address();
  if (!address || typeof address === 'string') throw new Error('vite preview did not report a port');
  return { server, url: `http://localhost:${address.port}${base}` };
}
