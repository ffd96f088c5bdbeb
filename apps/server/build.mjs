// Bundles the server (and @qiao/shared) into dist/main.js; npm packages stay external.
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
