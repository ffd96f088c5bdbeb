import { fileURLToPath } from 'node:url'
import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

const backend = 'http://localhost:3000'

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [react()],
  resolve: {
    // The shared contract is TypeScript source; the browser bundles it directly.
    alias: { '@qiao/shared': fileURLToPath(new URL('../../packages/shared/src/index.ts', import.meta.url)) },
  },
  server: {
    proxy: { '/api': backend, '/v1': backend, '/.well-known': backend, '/healthz': backend },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // No inline module preload polyfill: the CSP allows scripts from 'self' only.
    modulePreload: { polyfill: false },
    rollupOptions: {
      // The shared contract only declares things. Saying so lets Rollup drop the zod schemas the
      // browser never uses (it needs the error codes and a few constants), and zod with them.
      treeshake: { moduleSideEffects: (id) => !id.includes('/packages/shared/src/') },
    },
  },
})
