// Bundles the server (and @qiao/shared) into dist/; npm packages stay external but for BUNDLED. dist/main.js is the
// entry. Code splitting keeps what main.ts and others import dynamically (the server behind the
// heap settings, the built-in emulator, database and Redis drivers) in chunks of their own, so
// their npm imports load only when they are used. Data files the server reads at run time are
// copied beside the bundle, so `dist/` is deployable alone.
// `node build.mjs [outdir]` builds elsewhere (the bundle test builds into a temporary directory).
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

/**
 * npm packages bundled in rather than loaded from node_modules: ES-module packages of many small
 * files, where every module costs V8 a module record, a namespace and an environment for as long
 * as the process runs. Bundled, they are tree-shaken and become part of one chunk: ~2.3 MB less
 * heap and ~5 MB less resident memory at idle (bench/README.md). Kysely loads 262 modules, jose 46.
 * zod is left out: bundled, its heap grew. CommonJS packages gain little (nothing to tree-shake).
 */
const BUNDLED = ['kysely', 'jose']

/** Resolves the BUNDLED packages to their files, as Node would import them, so esbuild takes them in. */
const bundlePackages = {
  name: 'bundle-packages',
  setup(b) {
    const filter = new RegExp(`^(${BUNDLED.join('|')})(/|$)`)
    b.onResolve({ filter }, (args) => ({ path: fileURLToPath(import.meta.resolve(args.path)) }))
  },
}

const outdir = resolve(import.meta.dirname, process.argv[2] ?? 'dist')

const { metafile } = await build({
  absWorkingDir: import.meta.dirname,
  entryPoints: ['src/main.ts'],
  outdir,
  entryNames: '[name]',
  // Beside main.js: bundled code looks for files relative to import.meta.dirname.
  chunkNames: 'chunk-[hash]',
  splitting: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  // Whitespace and comments out, names kept (stack traces stay readable; dist/*.map maps them back).
  // The bundle's source text stays in the heap for as long as the process runs, and comments in
  // Chinese would make V8 hold all of it as two-byte text.
  minifyWhitespace: true,
  minifySyntax: true,
  charset: 'ascii',
  packages: 'external',
  alias: { '@qiao/shared': '../../packages/shared/src/index.ts' },
  logLevel: 'warning',
  metafile: true,
  plugins: [bundlePackages],
})

// Chunk names change with their content: drop the ones an earlier build left behind.
const written = new Set(Object.keys(metafile.outputs).map((file) => basename(file)))
for (const file of readdirSync(outdir)) {
  if (file.startsWith('chunk-') && !written.has(file)) rmSync(join(outdir, file))
}

copyFileSync(join(import.meta.dirname, 'src/features/auth/common-passwords.txt'), join(outdir, 'common-passwords.txt'))

// The BUNDLED packages' licences travel with the code taken from them.
const notices = BUNDLED.map((name) => {
  // Up from the package's entry to its own folder (package.json is not always exported).
  let dir = dirname(fileURLToPath(import.meta.resolve(name)))
  while (!existsSync(join(dir, 'package.json')) || JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name !== name) dir = dirname(dir)
  const file = readdirSync(dir).find((f) => /^licen[cs]e/i.test(f))
  if (!file) throw new Error(`no licence file in ${dir}`)
  return `${name}\n${'-'.repeat(name.length)}\n${readFileSync(join(dir, file), 'utf8').trim()}\n`
})
writeFileSync(join(outdir, 'THIRD-PARTY-LICENSES.txt'), `Packages bundled into this directory's JavaScript:\n\n${notices.join('\n')}`)
