// npm run preview:pages: builds the app as the GitHub Pages workflow does, under /endless-chat/ (or
// BASE, as the workflow sets it: /<repository>/), and previews it at that path. A plain
// `vite preview` of such a build serves it from / and shows a blank page.
//
//   npm run preview:pages            # http://localhost:4173/endless-chat/
//   BASE=/my-fork/ npm run preview:pages

import { join } from 'node:path';
import { REPO_ROOT } from '../lab/browser.ts';
import { buildApp, normalBase, PAGES_BASE, previewApp } from '../lab/appBuild.ts';

const base = normalBase(process.env.BASE ?? PAGES_BASE);
const outDir = join(REPO_ROOT, '.cache', 'pages-dist');
await buildApp(outDir, base);
const { url } = await previewApp(outDir, base, 4173);
console.log(`The GitHub Pages build (base ${base}) is served at ${url} — Ctrl+C stops it.`);
