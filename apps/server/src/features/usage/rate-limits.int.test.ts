import { DEFAULT_SETTINGS } from '@qiao/shared'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestApp, type TestApp } from '../../test/app'
import { bearer, promote, registerUser, type TestAccount } from '../auth/testing'

/** The platform's limits through the real app: settings-driven, with the documented 429 answer. */
describe('rate limits in the app', () => {
  let t: TestApp
  let admin: TestAccount
  let clock = new Date('2026-11-20T12:00:00.000Z')

  beforeAll(async () => {
    t = await createTestApp({ deps: { now: () => clock } })
    admin = await registerUser(t)
    await promote(t, admin.user.id)
    const res = await t.inject({
      method: 'PATCH',
      url: '/api/admin/settings',
      headers: bearer(admin.accessToken),
      payload: { rateLimits: { authPerMinute: 5, userRpm: 3, modelRpm: 1000, userTpm: 600, maxConcurrentStreams: 2 } },
    })
    expect(res.statusCode).toBe(200)
  })
  afterAll(async () => {
    await t.close()
  })

  const logout = (ip: string) => t.inject({ method: 'POST', url: '/api/auth/logout', remoteAddress: ip, payload: {} })

  it('limits every /api/auth route per IP with x-ratelimit headers, then 429 RATE_LIMITED with retry-after (G4)', async () => {
    const ip = '203.0.113.7'
    const answers = []
    for (let i = 0; i < 6; i++) answers.push(await logout(ip))
    expect(answers.slice(0, 5).map((r) => r.statusCode)).toEqual([204, 204, 204, 204, 204])
    expect(answers.slice(0, 5).map((r) => r.headers['x-ratelimit-remaining'])).toEqual(['4', '3', '2', '1', '0'])
    expect(answers[0]!.headers['x-ratelimit-limit']).toBe('5')
    const denied = answers[5]!
    expect(denied.statusCode).toBe(429)
    expect(denied.json().error.code).toBe('RATE_LIMITED')
    expect(denied.headers['retry-after']).toBe('12')
    expect(denied.headers['x-ratelimit-limit']).toBe('5')
    expect(denied.headers['x-ratelimit-remaining']).toBe('0')
    expect(Number(denied.headers['x-ratelimit-reset'])).toBeGreaterThan(0)
    // Before validation and the handler: a login flood never reaches bcrypt.
    const login = await t.inject({ method: 'POST', url: '/api/auth/login', remoteAddress: ip, payload: { login: 'x', password: 'y' } })
    expect(login.statusCode).toBe(429)
    // Other IPs are unaffected, and routes outside /api/auth carry no IP limit.
    expect((await logout('203.0.113.8')).statusCode).toBe(204)
    const me = await t.inject({ method: 'GET', url: '/api/me', headers: bearer(admin.accessToken), remoteAddress: ip })
    expect(me.statusCode).toBe(200)
    expect(me.headers['x-ratelimit-limit']).toBeUndefined()
    // One token refills every 12 s.
    clock = new Date(clock.getTime() + 12_000)
    expect((await logout(ip)).statusCode).toBe(204)
    expect((await logout(ip)).statusCode).toBe(429)
  })

  it('limits a user’s requests per minute and charges tokens after the fact', async () => {
    const rl = t.app.services.rateLimits
    const user = 'user-rpm'
    const first = await rl.checkUserRequest({ userId: user, model: 'qwen-plus' })
    expect(first).toMatchObject({ allowed: true, limit: 3, remaining: 2 })
    await rl.checkUserRequest({ userId: user, model: 'qwen-plus' })
    await rl.checkUserRequest({ userId: user, model: 'qwen-plus' })
    expect(await rl.checkUserRequest({ userId: user, model: 'qwen-plus' })).toMatchObject({ allowed: false, retryAfterSeconds: 20 })

    const heavy = 'user-tpm'
    expect((await rl.checkUserRequest({ userId: heavy, model: 'qwen-plus' })).allowed).toBe(true)
    await rl.chargeTokens({ userId: heavy, tokens: 5_000 })
    const afterCharge = await rl.checkUserRequest({ userId: heavy, model: 'qwen-plus' })
    expect(afterCharge.allowed).toBe(false)
    expect(afterCharge.limit).toBe(600)
  })

  it('caps one user’s concurrent streams: 50 at once → exactly the cap admitted (G4)', async () => {
    const rl = t.app.services.rateLimits
    const results = await Promise.all(Array.from({ length: 50 }, () => rl.acquireStream('streamer')))
    const admitted = results.filter((r) => r.allowed)
    expect(admitted).toHaveLength(2)
    expect(results.find((r) => !r.allowed)).toMatchObject({ limit: 2, remaining: 0 })
    for (const slot of admitted) if (slot.allowed) await slot.release()
    expect((await rl.acquireStream('streamer')).allowed).toBe(true)
  })
})

describe('rate limits with Redis down (G3)', () => {
  let t: TestApp
  let dead: Redis
  beforeAll(async () => {
    dead = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    })
    dead.on('error', () => undefined)
    t = await createTestApp({ deps: { redis: dead } })
  })
  afterAll(async () => {
    await t.close()
    dead.disconnect()
  })

  it('enforces a quarter of the limit locally, stays ready but degraded, and logs the outage once', async () => {
    const results = []
    // The local fallback allows a quarter of authPerMinute, never the full limit per instance.
    const local = Math.ceil(DEFAULT_SETTINGS.rateLimits.authPerMinute / 4)
    for (let i = 0; i < local + 2; i++) {
      results.push(await t.inject({ method: 'POST', url: '/api/auth/logout', remoteAddress: '198.51.100.1', payload: {} }))
    }
    expect(results.map((r) => r.statusCode)).toEqual([...Array<number>(local).fill(204), 429, 429])
    expect(results[local]!.headers['x-ratelimit-limit']).toBe(String(local))
    const ready = await t.inject({ method: 'GET', url: '/readyz' })
    expect(ready.statusCode).toBe(200)
    expect(ready.json()).toMatchObject({ status: 'degraded', checks: { database: 'ok', redis: 'down', rateLimit: 'degraded' } })
    expect(t.logs.text.match(/conservative local limit/g)).toHaveLength(1)
    expect(t.logs.text).toContain('rate_limit_degraded')
  })
})
