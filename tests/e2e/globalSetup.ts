// Builds the app once for every end-to-end file: against a stand-in hub whose two ports (hub and
// CDN) are chosen here, so each file can start its own hub on those ports (the files run one after
// another). E2E_DIST overrides the output folder, for two builds side by side.

import { createServer } from 'node:net';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { buildApp } from '../../lab/appBuild.ts';
import { REPO_ROOT } from '../../lab/browser.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    e2eDist: string;
    hubPort: number;
    cdnPort: number;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export default async function setup(project: TestProject): Promise<void> {
  const outDir = process.env.E2E_DIST ?? join(REPO_ROOT, '.cache', 'e2e-dist');
  const hubPort = await freePort();
  const cdnPort = await freePort();
  process.env.VITE_HUB_URL = `http://127.0.0.1:${hubPort}`;
  process.env.VITE_HUB_CDN_URL = `http://127.0.0.1:${cdnPort}`;
  await buildApp(outDir);
  project.provide('e2eDist', outDir);
  project.provide('hubPort', hubPort);
  project.provide('cdnPort', cdnPort);
}
