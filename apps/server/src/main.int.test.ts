import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { YOUNG_SEMI_SPACE_MB } from './platform/heap'
import { freePort } from './test/ports'

/**
 * The built bundle (`dist/main.js`, what `npm start` and the benchmark run), booted for real on
 * SQLite without Redis: it must not load the MySQL, PostgreSQL or Redis drivers at all, nor the
 * API docs until they are asked for, and it must run with the heap settings of platform/heap.ts.
 * Module loading is read inside the server process by a preloaded probe (SIGUSR2 → a JSON file).
 */
const REPO_ROOT = resolve(import.meta.dirname, '../../..')
const UNUSED_ON_SQLITE = /\/node_modules\/(mysql2|pg|pg-pool|ioredis)\//
const API_DOCS = /\/node_modules\/(@fastify\/swagger|@fastify\/swagger-ui|yaml)\//

// On SIGUSR2: allocation churn with survivors (a busy server in miniature, over many event-loop
// turns), then the CommonJS modules loaded so far and the young generation's size to a file.
const PROBE = `
import Module from 'node:module'
import { writeFileSync } from 'node:fs'
import { getHeapSpaceStatistics } from 'node:v8'
let n = 0
process.on('SIGUSR2', () => {
  let keep = []
  let rounds = 0
  const churn = () => {
    for (let i = 0; i < 20000; i++) {
      keep.push({ i, s: 'x' + i })
      if (keep.length > 30000) keep = []
    }
    if (++rounds < 200) return setImmediate(churn)
    keep = []
    const newSpace = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size
    writeFileSync(process.env.PROBE_OUT + '.' + n++, JSON.stringify({ modules: Object.keys(Module._cache), newSpace }))
  }
  churn()
})
`

interface Probe {
  modules: string[]
  newSpace: number
}


describe('the server bundle', () => {
  // Inside the repository, so the bundle's npm imports resolve as they do from apps/server/dist.
  const outDir = mkdtempSync(join(REPO_ROOT, 'node_modules', '.qiao-bundle-test-'))
  const dataDir = mkdtempSync(join(tmpdir(), 'qiao-bundle-'))
  const probeOut = join(dataDir, 'probe')
  let child: ChildProcess
  let base: string
  let output = ''
  let probes = 0

  async function probe(): Promise<Probe> {
    const file = `${probeOut}.${probes++}`
    child.kill('SIGUSR2')
    for (let i = 0; !existsSync(file); i++) {
      if (i > 400) throw new Error(`no probe answer:\n${output}`)
      await new Promise((ok) => setTimeout(ok, 25))
    }
    return JSON.parse(readFileSync(file, 'utf8')) as Probe
  }

  beforeAll(async () => {
    execFileSync(process.execPath, ['apps/server/build.mjs', outDir], { cwd: REPO_ROOT, stdio: 'pipe' })
    writeFileSync(join(outDir, 'probe.mjs'), PROBE)
    const port = await freePort()
    base = `http://127.0.0.1:${port}`
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      QIAO_DATA_DIR: dataDir,
      QIAO_PUBLIC_URL: base,
      QIAO_JWT_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      QIAO_MASTER_KEY: randomBytes(32).toString('base64'),
      QIAO_ADMIN_EMAIL: 'bundle-admin@example.com',
      QIAO_ADMIN_PASSWORD: `Bundle-${randomBytes(8).toString('hex')}-Admin`,
      QIAO_EMULATOR: 'off',
      PROBE_OUT: probeOut,
    }
    const probeUrl = pathToFileURL(join(outDir, 'probe.mjs')).href
    child = spawn(process.execPath, ['--import', probeUrl, join(outDir, 'main.js')], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()))
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()))
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`server exited early:\n${output}`)
      const up = await fetch(`${base}/healthz`).then((r) => r.ok, () => false)
      if (up) break
      if (i > 240) throw new Error(`server not ready:\n${output}`)
      await new Promise((ok) => setTimeout(ok, 250))
    }
  })

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((ok) => child.once('exit', ok))
      child.kill('SIGKILL')
      await exited
    }
    rmSync(outDir, { recursive: true, force: true })
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('boots on SQLite without loading the MySQL, PostgreSQL or Redis drivers or the API docs', async () => {
    const { modules } = await probe()
    // The probe sees CommonJS modules: fastify is one, so an empty list cannot pass by accident.
    expect(modules.some((m) => m.includes('/node_modules/fastify/'))).toBe(true)
    expect(modules.filter((m) => UNUSED_ON_SQLITE.test(m))).toEqual([])
    expect(modules.filter((m) => API_DOCS.test(m))).toEqual([])
  })

  it('runs with the young generation capped by platform/heap.ts', async () => {
    // Untuned, the churn grows the young generation to V8's maximum (2 x 16 MB); capped, it stops
    // at two semi-spaces of YOUNG_SEMI_SPACE_MB.
    const { newSpace } = await probe()
    expect(newSpace).toBeLessThanOrEqual(2 * YOUNG_SEMI_SPACE_MB * 1024 * 1024)
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
    const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)))
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
  })
})
