import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { YOUNG_SEMI_SPACE_MB } from './platform/heap'
import { buildBundle, productionEnv, startServer, type ServerProcess } from './test/bundle'

/**
 * The built bundle (`dist/main.js`, what `npm start` and the benchmark run), booted for real on
 * SQLite without Redis: it must not load the MySQL, PostgreSQL or Redis drivers at all, nor the
 * API docs until they are asked for, and it must run with the heap settings of platform/heap.ts.
 * Module loading is read inside the server process by a preloaded probe (SIGUSR2 → a JSON file).
 */
const UNUSED_ON_SQLITE = /\/node_modules\/(mysql2|pg|pg-pool|ioredis)\//
const API_DOCS = /\/node_modules\/(@fastify\/swagger|@fastify\/swagger-ui|yaml)\//
// Code nothing calls, that the packages' defaults would load (bench/README.md): Fastify's JSON-schema
// compilers (routes use zod), undici's index (fetch, WebSocket, caches, mocks) and its request API
// (providers/http.ts dispatches with a handler of its own), and glob.
const NEVER_CALLED = /\/node_modules\/(ajv|@fastify\/ajv-compiler|@fastify\/fast-json-stringify-compiler|glob|@fastify\/static)\/|\/node_modules\/undici\/(index\.js|lib\/web\/|lib\/cache\/|lib\/mock\/|lib\/api\/)/

// On SIGUSR2: the young generation's size, then allocation churn with survivors (a busy server in
// miniature, over many event-loop turns), then the CommonJS modules loaded so far and the young
// generation's size again, to a file.
const PROBE = `
import Module from 'node:module'
import { writeFileSync } from 'node:fs'
import { getHeapSpaceStatistics } from 'node:v8'
let n = 0
process.on('SIGUSR2', () => {
  const newSpaceSize = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size
  const idleNewSpace = newSpaceSize()
  let keep = []
  let rounds = 0
  const churn = () => {
    for (let i = 0; i < 20000; i++) {
      keep.push({ i, s: 'x' + i })
      if (keep.length > 30000) keep = []
    }
    if (++rounds < 200) return setImmediate(churn)
    keep = []
    writeFileSync(process.env.PROBE_OUT + '.' + n++, JSON.stringify({ modules: Object.keys(Module._cache), idleNewSpace, newSpace: newSpaceSize() }))
  }
  churn()
})
`

interface Probe {
  modules: string[]
  idleNewSpace: number
  newSpace: number
}

const MB = 1024 * 1024


describe('the server bundle', () => {
  const bundle = buildBundle()
  const dataDir = mkdtempSync(join(tmpdir(), 'qiao-bundle-'))
  const probeOut = join(dataDir, 'probe')
  let server: ServerProcess
  let base: string
  let probes = 0

  async function probe(): Promise<Probe> {
    const file = `${probeOut}.${probes++}`
    server.child.kill('SIGUSR2')
    for (let i = 0; !existsSync(file); i++) {
      if (i > 400) throw new Error(`no probe answer:\n${server.output()}`)
      await new Promise((ok) => setTimeout(ok, 25))
    }
    return JSON.parse(readFileSync(file, 'utf8')) as Probe
  }

  beforeAll(async () => {
    writeFileSync(join(bundle.dir, 'probe.mjs'), PROBE)
    const probeUrl = pathToFileURL(join(bundle.dir, 'probe.mjs')).href
    server = await startServer(join(bundle.dir, 'main.js'), productionEnv(dataDir, { PROBE_OUT: probeOut }), ['--import', probeUrl])
    base = server.base
  })

  afterAll(async () => {
    await server?.stop('SIGKILL')
    bundle.remove()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('keeps the young generation at V8\'s initial size until the server is busy, then caps it', async () => {
    // Booted and polled for health, nothing more: a quiet server. The first probe sees it as such.
    const { idleNewSpace, newSpace } = await probe()
    expect(idleNewSpace).toBeLessThanOrEqual(2 * MB)
    // The churn is busy: the young generation grows, to two semi-spaces of YOUNG_SEMI_SPACE_MB.
    // Untuned, it would grow to V8's maximum (2 x 16 MB).
    expect(newSpace).toBeGreaterThan(2 * MB)
    expect(newSpace).toBeLessThanOrEqual(2 * YOUNG_SEMI_SPACE_MB * MB)
  })

  it('boots on SQLite without loading the MySQL, PostgreSQL or Redis drivers, the API docs or code nothing calls', async () => {
    const { modules } = await probe()
    // The probe sees CommonJS modules: fastify is one, so an empty list cannot pass by accident.
    expect(modules.some((m) => m.includes('/node_modules/fastify/'))).toBe(true)
    expect(modules.filter((m) => UNUSED_ON_SQLITE.test(m))).toEqual([])
    expect(modules.filter((m) => API_DOCS.test(m))).toEqual([])
    expect(modules.filter((m) => NEVER_CALLED.test(m))).toEqual([])
    expect(modules.some((m) => m.endsWith('/node_modules/undici/lib/dispatcher/agent.js'))).toBe(true)
  })

  it('builds the API docs on their first request', async () => {
    const doc = await fetch(`${base}/openapi.json`)
    expect(doc.status).toBe(200)
    const spec = (await doc.json()) as { openapi: string; paths: Record<string, unknown> }
    expect(spec.openapi).toMatch(/^3\./)
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/v1/chat/completions', '/api/auth/login']))
    const ui = await fetch(`${base}/docs`)
    expect(ui.status).toBe(200)
    expect(ui.headers.get('content-type')).toContain('text/html')
    const { modules } = await probe()
    expect(modules.some((m) => API_DOCS.test(m))).toBe(true)
    expect(modules.filter((m) => UNUSED_ON_SQLITE.test(m))).toEqual([])
  })

  it('drains and exits 0 on SIGTERM', async () => {
    expect(await server.stop('SIGTERM')).toBe(0)
  })
})
