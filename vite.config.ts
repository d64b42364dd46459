import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { VitePWA } from 'vite-plugin-pwa';

// BASE lets the GitHub Pages build serve the app from /<repo>/ instead of /.
export default defineConfig({
  base: process.env.BASE ?? '/',
  plugins: [
    react(),
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
        // The app shell, the engine worker and onnxruntime-web's wasm, so the app opens offline.
        globPatterns: ['**/*.{js,css,html,svg,png,wasm,webmanifest}'],
        // onnxruntime-web's asyncify wasm is about 27 MB.
        maximumFileSizeToCacheInBytes: 48 * 2 ** 20,
        navigateFallback: 'index.html',
      },
    }),
  ],
  server: { fs: { allow: ['.', '../shared'] } },
  // The engine worker is a module worker and onnxruntime-web splits into chunks.
  worker: { format: 'es' },
  // The main chunk carries React, react-markdown and highlight.js's common languages (~600 kB,
  // ~190 kB gzipped), fetched once and then served by the service worker.
  build: { target: 'es2022', chunkSizeWarningLimit: 1024 },
});
