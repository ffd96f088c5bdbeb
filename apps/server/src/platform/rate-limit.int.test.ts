import { randomBytes } from 'node:crypto'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEST_REDIS_URL } from '../test/services'
import { createRateLimiter, createRedisRateLimiter, type RateLimiter } from './rate-limit'

/** The Redis limiter against a real Redis, under a random prefix so parallel suites never collide. */
describe('Redis rate limiter', () => {
  const prefix = `qiao:test:${randomBytes(6).toString('hex')}:rl:`
  let a: Redis
  let b: Redis
  let one: RateLimiter
  let two: RateLimiter

  beforeAll(() => {
    a = new Redis(TEST_REDIS_URL)
    b = new Redis(TEST_REDIS_URL)
    // Two limiters on two connections: what two app instances sharing one Redis look like.
    one = createRedisRateLimiter({ redis: a, prefix })
    two = createRedisRateLimiter({ redis: b, prefix })
  })
  afterAll(async () => {
    const keys = await a.keys(`${prefix}*`)
    if (keys.length) await a.del(...keys)
    a.disconnect()
    b.disconnect()
  })

  it('enforces one limit across two instances: capacity+1 concurrent takes → exactly capacity allowed (G2)', async () => {
    const spec = { key: 'shared', capacity: 20, refillPerSec: 20 / 60 }
    const results = await Promise.all(Array.from({ length: 21 }, (_, i) => (i % 2 ? one : two).take(spec)))
    expect(results.filter((r) => r.allowed)).toHaveLength(20)
    const denied = results.filter((r) => !r.allowed)
    expect(denied).toHaveLength(1)
    expect(denied[0]).toMatchObject({ limit: 20, remaining: 0, retryAfterSeconds: 3 })
  })

  it('refills on time', async () => {
    const spec = { key: 'refill', capacity: 2, refillPerSec: 10 }
    expect((await one.take(spec)).allowed).toBe(true)
    expect((await two.take(spec)).allowed).toBe(true)
    expect((await one.take(spec)).allowed).toBe(false)
    await sleep(150)
    expect((await two.take(spec)).allowed).toBe(true)
  })

  it('takes from several buckets all or nothing, and charges token debt', async () => {
    const user = { key: 'multi:user', capacity: 10, refillPerSec: 0.1 }
    const model = { key: 'multi:model', capacity: 1, refillPerSec: 0.01 }
    expect((await one.takeAll([user, model])).allowed).toBe(true)
    expect(await two.takeAll([user, model])).toMatchObject({ allowed: false, limit: 1 })
    expect((await one.take(user)).remaining).toBe(8)

    const tpm = { key: 'multi:tpm', capacity: 600, refillPerSec: 10 }
    expect(await two.take({ ...tpm, cost: 1000, debit: true })).toMatchObject({ allowed: false, remaining: 0 })
    expect((await one.take(tpm)).allowed).toBe(false)
  })

  it('shares a concurrency gate; released and expired slots free up', async () => {
    const gate = { key: 'streams:u1', max: 2, ttlMs: 300 }
    const x = await one.acquire(gate)
    const y = await two.acquire(gate)
    expect(x.allowed && y.allowed).toBe(true)
    expect((await one.acquire(gate)).allowed).toBe(false)
    if (x.allowed) await x.release()
    const z = await two.acquire(gate)
    expect(z.allowed).toBe(true)
    expect((await one.acquire(gate)).allowed).toBe(false)
    // Nobody releases y and z (a crashed instance): they expire with their score.
    await sleep(350)
    expect((await one.acquire(gate)).allowed).toBe(true)
  })

  it('reloads its script when Redis lost the script cache (NOSCRIPT)', async () => {
    await a.script('FLUSH')
    expect((await one.take({ key: 'noscript', capacity: 1, refillPerSec: 1 })).allowed).toBe(true)
  })

  it('Redis flushed: only the counters reset (L3)', async () => {
    const spec = { key: 'flushed', capacity: 1, refillPerSec: 0.001 }
    await one.take(spec)
    expect((await one.take(spec)).allowed).toBe(false)
    // What FLUSHALL does to us, without flushing a Redis other suites share.
    const keys = await a.keys(`${prefix}*`)
    await a.del(...keys)
    expect((await two.take(spec)).allowed).toBe(true)
  })
})

describe('rate limiter without Redis (G3)', () => {
  function capture() {
    const warnings: string[] = []
    const infos: string[] = []
    return {
      warnings,
      infos,
      logger: { warn: (_o: unknown, msg?: string) => void warnings.push(String(msg)), info: (_o: unknown, msg?: string) => void infos.push(String(msg)) },
    }
  }

  it('falls back to a conservative local cap (a quarter), reports degraded and warns once', async () => {
    const dead = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null })
    const log = capture()
    const rl = createRateLimiter({ redis: dead, prefix: 'qiao:test:dead:', logger: log.logger as never, probeMs: 0 })
    expect(rl.health()).toBe('ok')
    const spec = { key: 'ip:auth:1.2.3.4', capacity: 60, refillPerSec: 1 }
    const results = []
    for (let i = 0; i < 20; i++) results.push(await rl.take(spec))
    // Never the plan limit per instance: 15 of 60, then 429s with the local bucket's numbers.
    expect(results.filter((r) => r.allowed)).toHaveLength(15)
    expect(results[19]).toMatchObject({ allowed: false, limit: 15, remaining: 0 })
    expect(rl.health()).toBe('degraded')
    expect(log.warnings).toHaveLength(1)
    expect(log.warnings[0]).toMatch(/conservative local limit/)
    const gate = { key: 'streams:u', max: 8, ttlMs: 60_000 }
    const slots = []
    for (let i = 0; i < 3; i++) slots.push(await rl.acquire(gate))
    expect(slots.map((s) => s.allowed)).toEqual([true, true, false])
    dead.disconnect()
  })

  it('returns to the shared limit when Redis comes back, and says so in the log', async () => {
    // A TCP relay in front of the real Redis that we can cut and restore.
    const target = new URL(TEST_REDIS_URL)
    const sockets = new Set<Socket>()
    let relay: Server | undefined
    const open = (port: number) =>
      new Promise<number>((resolve) => {
        relay = createServer((client) => {
          const upstream = connect(Number(target.port || 6379), target.hostname)
          sockets.add(client).add(upstream)
          client.pipe(upstream).pipe(client)
          const drop = () => {
            client.destroy()
            upstream.destroy()
          }
          client.on('error', drop).on('close', drop)
          upstream.on('error', drop).on('close', drop)
        })
        relay.listen(port, '127.0.0.1', () => resolve((relay!.address() as { port: number }).port))
      })
    const cut = () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        sockets.clear()
        relay!.close(() => resolve())
      })
    const port = await open(0)
    const redis = new Redis({ host: '127.0.0.1', port, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 50 })
    await new Promise((r) => redis.once('ready', r))
    const log = capture()
    const prefix = `qiao:test:${randomBytes(6).toString('hex')}:rl:`
    const rl = createRateLimiter({ redis, prefix, logger: log.logger as never, probeMs: 0 })
    const spec = { key: 'k', capacity: 8, refillPerSec: 0.001 }
    expect((await rl.take(spec)).limit).toBe(8)

    await cut()
    expect((await rl.take(spec)).limit).toBe(2)
    expect(rl.health()).toBe('degraded')

    await open(port)
    let back = false
    for (let i = 0; i < 100 && !back; i++) {
      await sleep(50)
      back = (await rl.take(spec)).limit === 8
    }
    expect(back).toBe(true)
    expect(rl.health()).toBe('ok')
    expect(log.warnings).toHaveLength(1)
    expect(log.infos.some((m) => /Redis is back/.test(m))).toBe(true)
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length) await redis.del(...keys)
    redis.disconnect()
    await cut()
  })
})
