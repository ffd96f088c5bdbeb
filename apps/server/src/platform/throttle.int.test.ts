import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEST_REDIS_URL } from '../test/services'
import {
  createMemoryThrottleStore,
  createRedisThrottleStore,
  ThrottleUnavailableError,
  type ThrottleStore,
} from './throttle'

/** The same behaviour from both stores; Redis is the real local server under a random key prefix. */
describe('memory throttle store', () => {
  it('counts within a window and starts over after it', async () => {
    let now = 1_000_000
    const store = createMemoryThrottleStore(() => now)
    expect(await store.peek('k')).toEqual({ count: 0, resetInMs: 0 })
    expect(await store.hit('k', 60_000)).toEqual({ count: 1, resetInMs: 60_000 })
    now += 10_000
    expect(await store.hit('k', 60_000)).toEqual({ count: 2, resetInMs: 50_000 })
    expect(await store.peek('k')).toEqual({ count: 2, resetInMs: 50_000 })
    now += 50_000
    expect(await store.peek('k')).toEqual({ count: 0, resetInMs: 0 })
    expect((await store.hit('k', 60_000)).count).toBe(1)
    await store.reset('k')
    expect((await store.peek('k')).count).toBe(0)
  })
})

describe('redis throttle store', () => {
  let redis: Redis
  let store: ThrottleStore
  const prefix = `qiao-test:${randomBytes(6).toString('hex')}:`
  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 })
    store = createRedisThrottleStore(redis, prefix)
  })
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length) await redis.del(...keys)
    redis.disconnect()
  })

  it('counts atomically across concurrent hits and reports the window', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => store.hit('ip:1', 60_000)))
    expect(results.map((r) => r.count).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
    const peek = await store.peek('ip:1')
    expect(peek.count).toBe(20)
    expect(peek.resetInMs).toBeGreaterThan(0)
    expect(peek.resetInMs).toBeLessThanOrEqual(60_000)
    expect(await redis.pttl(`${prefix}ip:1`)).toBeGreaterThan(0)
    await store.reset('ip:1')
    expect(await store.peek('ip:1')).toEqual({ count: 0, resetInMs: 0 })
  })

  it('shares counters between two stores (two instances) on the same Redis', async () => {
    const other = createRedisThrottleStore(redis, prefix)
    await store.hit('shared', 60_000)
    await other.hit('shared', 60_000)
    expect((await store.peek('shared')).count).toBe(2)
  })

  it('expires the window', async () => {
    await store.hit('short', 50)
    await new Promise((r) => setTimeout(r, 120))
    expect((await store.peek('short')).count).toBe(0)
  })

  it('fails closed with ThrottleUnavailableError when Redis is unreachable', async () => {
    const dead = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    })
    const s = createRedisThrottleStore(dead, prefix)
    await expect(s.hit('x', 1000)).rejects.toBeInstanceOf(ThrottleUnavailableError)
    await expect(s.peek('x')).rejects.toBeInstanceOf(ThrottleUnavailableError)
    dead.disconnect()
  })
})
