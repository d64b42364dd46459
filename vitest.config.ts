import { defineConfig } from 'vitest/config';

// Three projects: pure TypeScript in Node; WebGPU work in headless Chromium (one browser per
// file); and the built app end to end (built once, served by vite preview, driven in headless Chromium).
export default defineConfig({
  test: {
    projects: [
      // 30 s: a few unit tests decode or export whole models, and run beside the browser projects.
      { test: { name: 'unit', include: ['tests/unit/**/*.test.ts'], environment: 'node', testTimeout: 30_000 } },
      {
        test: {
          name: 'gpu',
          include: ['tests/gpu/**/*.test.ts'],
          environment: 'node',
          testTimeout: 300_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['tests/e2e/**/*.test.ts'],
          globalSetup: ['tests/e2e/globalSetup.ts'],
          environment: 'node',
          testTimeout: 240_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
