import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';
import { VitePWA } from 'vite-plugin-pwa';
import { onnxruntimeGluePatch } from './lab/onnxruntimeGluePatch.ts';

// raw.githubusercontent.com: the llama2.c tokenizer of stories15M and larger (src/models/catalog.ts).
const HUB_ORIGINS = ['https://huggingface.co', 'https://*.huggingface.co', 'https://*.hf.co', 'https://raw.githubusercontent.com'];

/**
 * The built page's Content-Security-Policy, as a meta tag since GitHub Pages cannot set headers.
 * Build only: the dev server's hot reload needs inline scripts. Scripts come from the app alone;
 * 'wasm-unsafe-eval' lets onnxruntime-web compile its wasm. The page talks to itself and the model
 * hub (the stand-in hub's origins when VITE_HUB_URL / VITE_HUB_CDN_URL are set at build).
 */
function contentSecurityPolicy(): Plugin {
  let hub = HUB_ORIGINS;
  return {
    name: 'content-security-policy',
    apply: 'build',
    configResolved(config) {
      const set = [config.env.VITE_HUB_URL, config.env.VITE_HUB_CDN_URL].filter((url): url is string => Boolean(url));
      if (set.length > 0) hub = set.map((url) => new URL(url).origin);
    },
    transformIndexHtml() {
      const policy = [
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "worker-src 'self'",
        `connect-src 'self' ${hub.join(' ')}`,
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "manifest-src 'self'",
        "object-src 'none'",
        "frame-src 'none'",
        "base-uri 'self'",
        "form-action 'none'",
      ].join('; ');
      return [{ tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: policy }, injectTo: 'head-prepend' }];
    },
  };
}

// BASE lets the GitHub Pages build serve the app from /<repo>/ instead of /.
export default defineConfig({
  base: process.env.BASE ?? '/',
  plugins: [
    onnxruntimeGluePatch(),
    react(),
    contentSecurityPolicy(),
    VitePWA({
      // A new version waits for the user's reload (src/app/pwa.ts), never swaps under a reply.
      registerType: 'prompt',
      injectRegister: null,
      manifest: {
        name: 'Endless Chat',
        short_name: 'Endless Chat',
        description: 'A chat with a language model on your GPU, in the browser, that never runs out of context.',
        theme_color: '#1d4ed8',
        background_color: '#0f1115',
        display: 'standalone',
        icons: [
          { src: 'pwa-192.png', sizes: '192x192', type: 'image/png' },
          { src: 'pwa-512.png', sizes: '512x512', type: 'image/png' },
          { src: 'pwa-maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
        ],
      },
      workbox: {
        // The app shell, the engine worker, onnxruntime-web's wasm, the built-in model
        // (public/models/stories260K, 1 MB) and the Experiment view's book (public/texts, 258 KiB
        // of text), so the app opens, chats and runs the experiment offline.
        globPatterns: ['**/*.{js,css,html,svg,png,wasm,webmanifest,bin,txt}'],
        // onnxruntime-web's asyncify wasm is about 27 MB.
        maximumFileSizeToCacheInBytes: 48 * 2 ** 20,
        navigateFallback: 'index.html',
      },
    }),
  ],
  // Served as published, not pre-bundled, so the glue patch above applies in the dev server too.
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  // The engine worker is a module worker and onnxruntime-web splits into chunks.
  worker: { format: 'es', plugins: () => [onnxruntimeGluePatch()] },
  // The main chunk carries React, react-markdown and highlight.js's common languages (~600 kB,
  // ~190 kB gzipped), fetched once and then served by the service worker.
  build: { target: 'es2022', chunkSizeWarningLimit: 1024 },
});
