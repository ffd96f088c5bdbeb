import { describe, expect, it } from 'vitest'
import { AppError } from '../errors'
import { createMemoryRateLimiter, decisive, fallbackShare, newSlotId, rateLimited, rateLimitHeaders } from './rate-limit'

/** The in-process limiter, on an injected clock: refill is checked by moving time, never by sleeping. */
describe('memory rate limiter', () => {
  const clock = () => {
    let t = 1_000_000
    return { now: () => t, advance: (ms: number) => (t += ms) }
  }

  it('allows exactly `capacity` requests, then denies with retry-after until a token refills', async () => {
    const c = clock()
    const rl = createMemoryRateLimiter(c.now)
    const spec = { key: 'u1', capacity: 5, refillPerSec: 5 / 60 }
    const results = []
    for (let i = 0; i < 6; i++) results.push(await rl.take(spec))
    expect(results.filter((r) => r.allowed)).toHaveLength(5)
    expect(results.map((r) => r.remaining)).toEqual([4, 3, 2, 1, 0, 0])
    const denied = results[5]!
    expect(denied).toMatchObject({ allowed: false, limit: 5, remaining: 0, retryAfterSeconds: 12, resetSeconds: 60 })
    c.advance(11_000)
    expect((await rl.take(spec)).allowed).toBe(false)
    c.advance(1_000)
    expect((await rl.take(spec)).allowed).toBe(true)
    // A full minute later the bucket is full again, never more than full.
    c.advance(600_000)
    expect((await rl.take(spec)).remaining).toBe(4)
  })

  it('keeps separate keys separate', async () => {
    const rl = createMemoryRateLimiter(clock().now)
    for (let i = 0; i < 3; i++) await rl.take({ key: 'a', capacity: 3, refillPerSec: 1 })
    expect((await rl.take({ key: 'a', capacity: 3, refillPerSec: 1 })).allowed).toBe(false)
    expect((await rl.take({ key: 'b', capacity: 3, refillPerSec: 1 })).allowed).toBe(true)
  })

  it('takes from several buckets all or nothing', async () => {
    const rl = createMemoryRateLimiter(clock().now)
    const user = { key: 'user', capacity: 10, refillPerSec: 1 }
    const model = { key: 'model', capacity: 1, refillPerSec: 0.01 }
    expect((await rl.takeAll([user, model])).allowed).toBe(true)
    const denied = await rl.takeAll([user, model])
    expect(denied).toMatchObject({ allowed: false, limit: 1, retryAfterSeconds: 100 })
    // The denial took nothing from the user's bucket.
    expect((await rl.take(user)).remaining).toBe(8)
  })

  it('charges tokens after the fact into debt, denying until the budget has refilled', async () => {
    const c = clock()
    const rl = createMemoryRateLimiter(c.now)
    const tpm = { key: 'tpm', capacity: 600, refillPerSec: 10 }
    const charged = await rl.take({ ...tpm, cost: 1_000, debit: true })
    expect(charged).toMatchObject({ allowed: false, remaining: 0, retryAfterSeconds: 41 })
    expect((await rl.take(tpm)).allowed).toBe(false)
    c.advance(41_000)
    expect((await rl.take(tpm)).allowed).toBe(true)
  })

  it('gates concurrency, frees slots on release, and expires slots nobody released', async () => {
    const c = clock()
    const rl = createMemoryRateLimiter(c.now)
    const gate = { key: 'streams:u1', max: 2, ttlMs: 60_000 }
    const a = await rl.acquire(gate)
    const b = await rl.acquire(gate)
    expect(a.allowed && b.allowed).toBe(true)
    const third = await rl.acquire(gate)
    expect(third).toMatchObject({ allowed: false, limit: 2, remaining: 0, retryAfterSeconds: 60 })
    if (a.allowed) {
      await a.release()
      await a.release() // twice is harmless: it must not free someone else's slot
    }
    expect((await rl.acquire(gate)).allowed).toBe(true)
    expect((await rl.acquire(gate)).allowed).toBe(false)
    c.advance(60_001)
    expect((await rl.acquire(gate)).allowed).toBe(true)
  })

  it('picks the decisive decision and builds the documented headers and error', () => {
    const ok = { allowed: true, limit: 100, remaining: 90, resetSeconds: 6, retryAfterSeconds: 0 }
    const tight = { allowed: true, limit: 10, remaining: 1, resetSeconds: 54, retryAfterSeconds: 0 }
    const deny = { allowed: false, limit: 10, remaining: 0, resetSeconds: 60, retryAfterSeconds: 6 }
    expect(decisive([ok, tight])).toBe(tight)
    expect(decisive([ok, deny, tight])).toBe(deny)
    expect(rateLimitHeaders(tight)).toEqual({ 'x-ratelimit-limit': '10', 'x-ratelimit-remaining': '1', 'x-ratelimit-reset': '54' })
    const err = rateLimited(deny)
    expect(err).toBeInstanceOf(AppError)
    expect(err.status).toBe(429)
    expect(err.retryAfter).toBe(6)
    expect(err.headers?.['x-ratelimit-remaining']).toBe('0')
  })

  it('falls back to a quarter of a limit, at least one', () => {
    expect(fallbackShare(60)).toBe(15)
    expect(fallbackShare(5)).toBe(2)
    expect(fallbackShare(1)).toBe(1)
  })

  it('gives every concurrency slot its own id, tagged with this process', () => {
    const ids = Array.from({ length: 10_000 }, () => newSlotId())
    expect(new Set(ids).size).toBe(ids.length)
    const tags = new Set(ids.map((id) => id.split('.')[0]))
    expect(tags.size).toBe(1)
    expect([...tags][0]!.length).toBeGreaterThanOrEqual(12)
  })
})
