// Browser portal build: Vite's own esbuild JSX (no React plugin), root ui/, output ui/dist.
// `npm run build:ui` from the repository root; `npx vite --config ui/vite.config.ts` for a
// dev server that proxies the API to a running Gatehouse (GATEHOUSE_DEV_API, default https://localhost:8443).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const api = process.env.GATEHOUSE_DEV_API ?? 'https://localhost:8443';

export default defineConfig({
  root,
  base: '/',
  publicDir: 'public',
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
    target: ['chrome111', 'firefox115', 'safari16', 'edge111'],
  },
  server: {
    proxy: {
      '/api': { target: api, secure: false, changeOrigin: true, ws: true },
      '/healthz': { target: api, secure: false, changeOrigin: true },
    },
  },
});
