// Opens a page of this repository in headless Chromium with WebGPU (SwiftShader where no GPU is
// present), served from http://localhost by Vite so it is a secure context. Used by the GPU tests,
// the benchmark and the harness.

import { chromium, type Browser, type Page } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
  '--enable-features=Vulkan',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export interface BrowserPage {
  page: Page;
  /** Console lines the page printed, for failure messages. */
  console: string[];
  close(): Promise<void>;
}

/** A Chromium other than the system's, such as the one npm run bench:gpu unpacks. */
export interface ChromiumBuild {
  executablePath: string;
  /** Its whole command line (CHROMIUM_ARGS are not added). */
  args: string[];
  env: Record<string, string>;
}

/** `path` is relative to the repository root, such as lab/attention/index.html. */
export async function openPage(path: string, options: { hardwareGpu?: boolean; extraArgs?: string[]; chromium?: ChromiumBuild } = {}): Promise<BrowserPage> {
  let server: ViteDevServer | undefined;
  let browser: Browser | undefined;
  try {
    server = await createServer({
      root: REPO_ROOT,
      configFile: `${REPO_ROOT}/vite.config.ts`,
      logLevel: 'error',
      server: { host: 'localhost', port: 0, strictPort: false, hmr: false, watch: null },
    });
    await server.listen();
    const address = server.httpServer?.address();
    if (!address || typeof address === 'string') throw new Error('Vite did not report a port');
    const args = [...(options.hardwareGpu ? CHROMIUM_ARGS.filter((a) => !a.startsWith('--use-webgpu-adapter')) : CHROMIUM_ARGS), ...(options.extraArgs ?? [])];
    browser = await chromium.launch(
      options.chromium
        ? { ...options.chromium, headless: true }
        : { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args },
    );
    const page = await browser.newPage();
    const console: string[] = [];
    page.on('console', (m) => console.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => console.push(`pageerror: ${e.message}`));
    await page.goto(`http://localhost:${address.port}/${path}`);
    const opened = { server, browser };
    return {
      page,
      console,
      async close() {
        await opened.browser.close();
        await opened.server.close();
      },
    };
  } catch (error) {
    await browser?.close();
    await server?.close();
    throw error;
  }
}
