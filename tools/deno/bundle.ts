// npm run bundle:deno -- [--out .cache/deno]: builds the Deno entries (tools/deno/soak.ts,
// bench.ts and benchGpu.ts) with Vite (WGSL as strings, onnxruntime-web's wasm as files beside
// them) into one flat folder that holds all they need: the bundles, stories260K and its tokenizer,
// and the token stream. Copy the folder to a machine with Deno and a GPU, and run the commands the
// entries give (npm run bench:gpu builds and runs bench-gpu.js itself).

import { copyFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'vite';
import { onnxruntimeGluePatch } from '../../lab/onnxruntimeGluePatch.ts';
import { REPO_ROOT } from '../../lab/browser.ts';
import { STORIES260K_CHECKPOINT, STORIES260K_TOKENIZER } from '../../lab/fixtures.ts';
import { storyStream } from '../../lab/storyStream.ts';

const { values } = parseArgs({ options: { out: { type: 'string', default: '.cache/deno' } } });
const out = resolve(REPO_ROOT, values.out);

await build({
  configFile: false,
  root: REPO_ROOT,
  base: './',
  publicDir: false,
  plugins: [onnxruntimeGluePatch()],
  logLevel: 'warn',
  build: {
    outDir: out,
    emptyOutDir: true,
    target: 'esnext',
    minify: false,
    modulePreload: false,
    assetsInlineLimit: 0,
    rollupOptions: {
      input: { soak: join(REPO_ROOT, 'tools/deno/soak.ts'), bench: join(REPO_ROOT, 'tools/deno/bench.ts'), 'bench-gpu': join(REPO_ROOT, 'tools/deno/benchGpu.ts') },
      external: [/^node:/],
      // Flat, so the files the entries find beside themselves (import.meta.url) are where they look.
      output: { format: 'es', entryFileNames: '[name].js', chunkFileNames: '[name].js', assetFileNames: '[name][extname]' },
    },
  },
});
copyFileSync(STORIES260K_CHECKPOINT, join(out, 'stories260K.bin'));
copyFileSync(STORIES260K_TOKENIZER, join(out, 'tok512.bin'));
writeFileSync(join(out, 'ids.json'), JSON.stringify(storyStream(20000)));
console.log(`built ${out}: run there  deno run -A --v8-flags=--expose-gc soak.js --chunk 256 --every 40960 --out results  or  deno run -A bench.js --out results`);
