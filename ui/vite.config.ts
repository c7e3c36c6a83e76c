// Browser portal build: Vite's own esbuild JSX (no React plugin), root ui/, output ui/dist.
// `npm run build:ui` from the repository root; `npx vite --config ui/vite.config.ts` for a
// dev server that proxies the API to a running Gatehouse (GATEHOUSE_DEV_API, default https://localhost:8443).
// The RDP player imports neutral code from ../src (the ghrec container, the RDP record types
// and decoder, the typed-text index) by relative path: the same bytes decode the same way in
// the browser, the CLI export and the server's live keyframe.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
// The repository root: node_modules and the shared ../src (the dev server serves only allowed folders).
const repo = fileURLToPath(new URL('..', import.meta.url));
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
    fs: { allow: [repo] },
    proxy: {
      '/api': { target: api, secure: false, changeOrigin: true, ws: true },
      '/healthz': { target: api, secure: false, changeOrigin: true },
    },
  },
});
