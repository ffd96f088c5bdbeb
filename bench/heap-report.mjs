// Loaded into the server by `npm run bench -- --idle` (node --import). On SIGUSR2 it writes
// bench/results/heap-report.txt: V8's heap spaces, process.memoryUsage() and the npm packages
// loaded (CommonJS modules per package, most first). With BENCH_HEAP_SNAPSHOT=1 it also writes a
// heap snapshot beside it, for Chrome DevTools' Memory tab.
import { writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import v8 from 'node:v8'

// The CommonJS loader's cache: one object, whichever require() reads it.
const { cache } = createRequire(import.meta.url)

const MB = 1024 * 1024
const mb = (bytes) => (bytes / MB).toFixed(2)
const results = join(import.meta.dirname, 'results')

process.on('SIGUSR2', () => {
  const lines = ['V8 heap spaces (MB): size, used, resident']
  for (const s of v8.getHeapSpaceStatistics()) {
    if (s.space_size > 0) lines.push(`  ${s.space_name.padEnd(24)} ${mb(s.space_size)}  ${mb(s.space_used_size)}  ${mb(s.physical_space_size)}`)
  }
  const m = process.memoryUsage()
  lines.push(`memoryUsage (MB): rss ${mb(m.rss)}, heapTotal ${mb(m.heapTotal)}, heapUsed ${mb(m.heapUsed)}, external ${mb(m.external)}`)
  const code = v8.getHeapCodeStatistics()
  lines.push(`code ${mb(code.code_and_metadata_size)} MB, bytecode ${mb(code.bytecode_and_metadata_size)} MB, external script source ${mb(code.external_script_source_size)} MB`)
  const packages = new Map()
  for (const file of Object.keys(cache)) {
    const at = file.lastIndexOf('node_modules/')
    if (at < 0) continue
    const rest = file.slice(at + 'node_modules/'.length).split('/')
    const name = rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]
    packages.set(name, (packages.get(name) ?? 0) + 1)
  }
  lines.push('CommonJS modules loaded, by package:')
  lines.push('  ' + [...packages].sort((a, b) => b[1] - a[1]).map(([name, n]) => `${name} ${n}`).join(', '))
  if (process.env.BENCH_HEAP_SNAPSHOT === '1') lines.push(`heap snapshot: ${v8.writeHeapSnapshot(join(results, 'idle.heapsnapshot'))}`)
  writeFileSync(join(results, 'heap-report.txt'), lines.join('\n') + '\n')
})
