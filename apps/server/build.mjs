// Bundles the server (and @qiao/shared) into dist/main.js; npm packages stay external.
// Data files the server reads at run time are copied beside the bundle, so `dist/` is deployable alone.
import { copyFileSync, mkdirSync } from 'node:fs'
import { build } from 'esbuild'

await build({
  entryPoints: ['src/main.ts'],
  outfile: 'dist/main.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  packages: 'external',
  alias: { '@qiao/shared': '../../packages/shared/src/index.ts' },
  logLevel: 'warning',
})

mkdirSync('dist', { recursive: true })
copyFileSync('src/features/auth/common-passwords.txt', 'dist/common-passwords.txt')
