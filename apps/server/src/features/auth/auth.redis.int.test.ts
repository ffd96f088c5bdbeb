import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp, type App } from '../../app'
import { createTestApp, type TestApp } from '../../test/app'
import { TEST_REDIS_URL } from '../../test/services'
import { LOGIN_LIMITS } from './auth.service'
import { registerUser } from './testing'

/** Login throttling through the Redis store: shared by two instances, and failing closed (G3). */
describe('login throttling with Redis', () => {
  let redis: Redis
  let t: TestApp
  let second: App
  beforeAll(async () => {
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 })
    t = await createTestApp({ deps: { redis } })
    // A second instance: same database, same Redis.
    second = await buildApp({ ...t.deps })
    await second.ready()
  })
  afterAll(async () => {
    await second.close()
    await t.close()
    redis.disconnect()
  })

  it('counts failures from one IP across both instances', async () => {
    const ip = '10.9.0.1'
    const account = await registerUser(t)
    for (let i = 0; i < LOGIN_LIMITS.ipFailures; i++) {
      const app = i % 2 === 0 ? t.app : second
      const res = await app.inject({
        method: 'POST',
        url: '/api/auth/login',
        remoteAddress: ip,
        payload: { login: `nobody${i}@example.com`, password: 'wrong-password-r' },
      })
      expect(res.statusCode).toBe(401)
    }
    for (const app of [t.app, second]) {
      const res = await app.inject({
        method: 'POST',
        url: '/api/auth/login',
        remoteAddress: ip,
        payload: { login: account.email, password: account.password },
      })
      expect(res.statusCode).toBe(429)
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0)
    }
  })

  it('fails closed with 503 when Redis is unreachable', async () => {
    const account = await registerUser(t)
    const dead = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    })
    const broken = await buildApp({ ...t.deps, redis: dead })
    const res = await broken.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { login: account.email, password: account.password },
    })
    expect(res.statusCode).toBe(503)
    expect(res.json().error.code).toBe('SERVICE_UNAVAILABLE')
    await broken.close()
    dead.disconnect()
  })
})
