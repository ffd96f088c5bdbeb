import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDb, type TestDb } from '../test/databases'
import { freePort } from '../test/ports'
import { TEST_REDIS_URL } from '../test/services'

/**
 * SECURITY.md G2/G3 and L3 with real processes: two servers (`tsx src/main.ts`) on one MariaDB
 * database and one Redis enforce ONE limit; a third pointed at a dead Redis falls back to a
 * conservative local cap and says so in /readyz and its log; flushing Redis only resets counters.
 */
const ROOT = resolve(import.meta.dirname, '../../../..')
// authPerMinute 20 = one token every 3 s: the concurrent burst finishes long before a refill.
const CAPACITY = 20

interface Instance {
  url: string
  child: ChildProcess
  output: () => string
  dataDir: string
}

async function startInstance(env: Record<string, string>): Promise<Instance> {
  const port = await freePort()
  const dataDir = mkdtempSync(join(tmpdir(), 'qiao-proc-'))
  const child = spawn(join(ROOT, 'node_modules/.bin/tsx'), ['apps/server/src/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      PORT: String(port),
      HOST: '127.0.0.1',
      QIAO_DATA_DIR: dataDir,
      QIAO_EMULATOR: 'off',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (out += d.toString()))
  const url = `http://127.0.0.1:${port}`
  // Wait until it answers (boot includes migrations and key generation), or fail with its output.
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`server exited early:\n${out}`)
    try {
      if ((await fetch(`${url}/healthz`)).ok) break
    } catch {
      // not listening yet
    }
    if (i > 600) throw new Error(`server did not start:\n${out}`)
    await sleep(100)
  }
  return { url, child, output: () => out, dataDir }
}

async function stopInstance(i: Instance | undefined): Promise<void> {
  if (!i) return
  if (i.child.exitCode === null) {
    const exited = new Promise((r) => i.child.once('exit', r))
    i.child.kill('SIGTERM')
    await exited
  }
  rmSync(i.dataDir, { recursive: true, force: true })
}

const logout = (i: Instance) =>
  fetch(`${i.url}/api/auth/logout`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })

describe('one rate limit across two server processes sharing Redis', () => {
  const prefix = `qiao:test:${randomBytes(6).toString('hex')}:`
  let db: TestDb
  let redis: Redis
  let a: Instance | undefined
  let b: Instance | undefined
  let c: Instance | undefined

  beforeAll(async () => {
    db = await createTestDb('mysql')
    await db.db.kysely
      .insertInto('settings')
      .values({ key: 'rateLimits', value: JSON.stringify({ authPerMinute: CAPACITY }), updatedAt: new Date().toISOString(), updatedBy: null })
      .execute()
    redis = new Redis(TEST_REDIS_URL)
    const shared = { DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, QIAO_REDIS_PREFIX: prefix }
    // One after the other: the first bootstraps the admin on the empty database.
    a = await startInstance(shared)
    b = await startInstance(shared)
  }, 120_000)

  afterAll(async () => {
    await Promise.all([stopInstance(a), stopInstance(b), stopInstance(c)])
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length) await redis.del(...keys)
    redis.disconnect()
    await db.drop()
  }, 60_000)

  it('capacity+1 concurrent requests across both → exactly capacity pass, the rest 429 with headers; refill on time (G2)', async () => {
    const answers = await Promise.all(Array.from({ length: CAPACITY + 1 }, (_, i) => logout(i % 2 ? a! : b!)))
    const statuses = answers.map((r) => r.status)
    expect(statuses.filter((s) => s === 204)).toHaveLength(CAPACITY)
    expect(statuses.filter((s) => s === 429)).toHaveLength(1)
    for (const r of answers) {
      expect(r.headers.get('x-ratelimit-limit')).toBe(String(CAPACITY))
      expect(r.headers.get('x-ratelimit-remaining')).toMatch(/^\d+$/)
      expect(r.headers.get('x-ratelimit-reset')).toMatch(/^\d+$/)
    }
    const denied = answers.find((r) => r.status === 429)!
    expect(((await denied.json()) as { error: { code: string } }).error.code).toBe('RATE_LIMITED')
    expect(denied.headers.get('x-ratelimit-remaining')).toBe('0')
    const retryAfter = Number(denied.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThanOrEqual(1)

    // Both instances see the same empty bucket…
    expect((await logout(a!)).status).toBe(429)
    expect((await logout(b!)).status).toBe(429)
    // …and after the advertised wait, the bucket has refilled for both.
    await sleep(retryAfter * 1000 + 100)
    expect((await logout(b!)).status).toBe(204)
  })

  it('Redis flushed: only the counters reset; nothing else depends on them (L3)', async () => {
    while ((await logout(a!)).status !== 429) {
      // drain whatever refilled
    }
    expect((await logout(b!)).status).toBe(429)
    const keys = await redis.keys(`${prefix}*`)
    expect(keys.length).toBeGreaterThan(0)
    await redis.del(...keys)
    expect((await logout(b!)).status).toBe(204)
    expect((await fetch(`${a!.url}/readyz`)).status).toBe(200)
  })

  it('an instance whose Redis is down falls back to a quarter of the limit, reports degraded, and logs it once (G3)', async () => {
    const closedPort = await freePort()
    c = await startInstance({ DATABASE_URL: db.url, REDIS_URL: `redis://127.0.0.1:${closedPort}`, QIAO_REDIS_PREFIX: prefix })
    const statuses: number[] = []
    for (let i = 0; i < 20; i++) statuses.push((await logout(c)).status)
    // 5 of 20, never the full plan limit on this instance (locally one token per 12 s refills).
    expect(statuses.filter((s) => s === 204).length).toBeGreaterThanOrEqual(5)
    expect(statuses.filter((s) => s === 204).length).toBeLessThanOrEqual(6)
    expect(statuses.at(-1)).toBe(429)
    const ready = await fetch(`${c.url}/readyz`)
    expect(ready.status).toBe(200)
    expect(await ready.json()).toMatchObject({ status: 'degraded', checks: { database: 'ok', redis: 'down', rateLimit: 'degraded' } })
    expect(c.output().match(/conservative local limit/g)).toHaveLength(1)
  })
})
