import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// BASE lets the GitHub Pages build serve the app from /<repo>/ instead of /.
export default defineConfig({
  base: process.env.BASE ?? '/',
  plugins: [react()],
  server: { fs: { allow: ['.', '../shared'] } },
  build: { target: 'es2022' },
});
