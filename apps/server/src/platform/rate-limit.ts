import { createHash, randomBytes } from 'node:crypto'
import type { FastifyBaseLogger, FastifyReply } from 'fastify'
import type { Redis } from 'ioredis'
import { AppError } from '../errors'

/**
 * Token buckets and concurrency gates (SECURITY.md G2–G4). One interface, three implementations:
 * in-process (the embedded default), Redis (shared by every instance, one Lua script per decision,
 * clocked by the Redis server so instances with skewed clocks agree), and a resilient wrapper that
 * falls back to a conservative in-process cap while Redis is unreachable.
 *
 * Rate-limit state is advisory: losing it (Redis flushed, restart) only resets counters. Nothing
 * that must be enforced exactly (balances, revocations, lockouts) lives here (invariant 5).
 */

/** One bucket: `capacity` tokens, refilled continuously at `refillPerSec`. A missing bucket is full. */
export interface BucketSpec {
  key: string
  capacity: number
  refillPerSec: number
  /** Tokens this decision takes; default 1. Tokens-per-minute buckets take the token count. */
  cost?: number
  /**
   * Charge after the fact: always subtract `cost`, even into debt, so the next request waits for
   * the refill. `allowed` then says whether the bucket is still out of debt.
   */
  debit?: boolean
}

export interface RateDecision {
  allowed: boolean
  /** The bucket's capacity (`x-ratelimit-limit`). */
  limit: number
  /** Whole tokens left after this decision (`x-ratelimit-remaining`). */
  remaining: number
  /** Seconds until the bucket is full again (`x-ratelimit-reset`). */
  resetSeconds: number
  /** Seconds until the denied request could succeed (`retry-after`); 0 when allowed. */
  retryAfterSeconds: number
}

export type GateResult =
  | { allowed: true; limit: number; remaining: number; release: () => Promise<void> }
  | { allowed: false; limit: number; remaining: 0; retryAfterSeconds: number }

export interface RateLimiter {
  take(spec: BucketSpec): Promise<RateDecision>
  /**
   * All buckets or none: when any bucket would deny, nothing is taken from the others. Answers the
   * decisive bucket: the denying one (longest wait) or else the one with the least room left.
   */
  takeAll(specs: BucketSpec[]): Promise<RateDecision>
  /**
   * A concurrency slot under `key`, at most `max` held at once. Slots expire after `ttlMs` so a
   * crashed holder (or instance) cannot leak them forever; release as soon as the work ends.
   */
  acquire(options: { key: string; max: number; ttlMs: number }): Promise<GateResult>
  /** `degraded` while the shared store is unreachable and the local fallback decides. */
  health(): 'ok' | 'degraded'
}

interface BucketOutcome {
  allowed: boolean
  tokens: number
}

function decisionOf(spec: BucketSpec, out: BucketOutcome): RateDecision {
  const rate = spec.refillPerSec
  const cost = spec.cost ?? 1
  const need = spec.debit ? 1 - out.tokens : cost - out.tokens
  return {
    allowed: out.allowed,
    limit: spec.capacity,
    remaining: Math.max(0, Math.floor(out.tokens)),
    resetSeconds: Math.max(0, Math.ceil((spec.capacity - out.tokens) / rate)),
    retryAfterSeconds: out.allowed ? 0 : Math.max(1, Math.ceil(need / rate)),
  }
}

/** The decision that explains the answer: the longest denial, else the tightest bucket. */
export function decisive(decisions: RateDecision[]): RateDecision {
  const denied = decisions.filter((d) => !d.allowed)
  if (denied.length) return denied.reduce((a, b) => (b.retryAfterSeconds > a.retryAfterSeconds ? b : a))
  return decisions.reduce((a, b) => (b.remaining / b.limit < a.remaining / a.limit ? b : a))
}

let instanceTag: string | undefined
let slotSeq = 0

/**
 * A concurrency slot's id. It only has to differ from every other slot held in the same gate (by
 * any instance sharing Redis), not be unguessable: a random tag drawn once per process and a
 * counter, instead of a CSPRNG call on every request.
 */
export function newSlotId(): string {
  instanceTag ??= randomBytes(9).toString('base64url')
  slotSeq = (slotSeq + 1) % Number.MAX_SAFE_INTEGER
  return `${instanceTag}.${slotSeq.toString(36)}`
}

function validate(spec: BucketSpec): void {
  if (!(spec.capacity > 0) || !(spec.refillPerSec > 0) || (spec.cost ?? 1) < 0) {
    throw new Error(`invalid bucket ${spec.key}: capacity and refill must be positive`)
  }
}

/** In-process buckets; `now` is injectable so tests can move time instead of sleeping. */
export function createMemoryRateLimiter(now: () => number = Date.now): RateLimiter {
  const buckets = new Map<string, { tokens: number; ts: number }>()
  const gates = new Map<string, Map<string, number>>()
  let lastSweep = now()

  function sweep(t: number): void {
    // Drop buckets that have refilled completely (a missing bucket is full) and empty gates, so
    // memory is bounded by the keys active in the last few minutes.
    if (t - lastSweep < 60_000) return
    lastSweep = t
    for (const [key, b] of buckets) if (b.ts + 600_000 < t) buckets.delete(key)
    for (const [key, slots] of gates) {
      for (const [id, exp] of slots) if (exp <= t) slots.delete(id)
      if (!slots.size) gates.delete(key)
    }
  }

  function refilled(spec: BucketSpec, b: { tokens: number; ts: number } | undefined, t: number): number {
    if (!b) return spec.capacity
    return Math.min(spec.capacity, b.tokens + (Math.max(0, t - b.ts) / 1000) * spec.refillPerSec)
  }

  async function takeAll(specs: BucketSpec[]): Promise<RateDecision> {
    specs.forEach(validate)
    const t = now()
    sweep(t)
    // Every request passes here: one lookup per bucket, and buckets are updated in place.
    const held = specs.map((s) => buckets.get(s.key))
    const levels = specs.map((s, i) => refilled(s, held[i], t))
    const ok = specs.every((s, i) => s.debit || levels[i]! >= (s.cost ?? 1))
    return decisive(
      specs.map((s, i) => {
        const after = ok || s.debit ? levels[i]! - (s.cost ?? 1) : levels[i]!
        const b = held[i]
        if (b) {
          b.tokens = after
          b.ts = t
        } else {
          buckets.set(s.key, { tokens: after, ts: t })
        }
        return decisionOf(s, { allowed: s.debit ? ok && after >= 0 : ok, tokens: after })
      }),
    )
  }

  return {
    take: (spec) => takeAll([spec]),
    takeAll,
    async acquire({ key, max, ttlMs }) {
      const t = now()
      sweep(t)
      let slots = gates.get(key)
      if (!slots) gates.set(key, (slots = new Map<string, number>()))
      for (const [id, exp] of slots) if (exp <= t) slots.delete(id)
      if (slots.size >= max) {
        const soonest = Math.min(...slots.values())
        return { allowed: false, limit: max, remaining: 0, retryAfterSeconds: Math.max(1, Math.ceil((soonest - t) / 1000)) }
      }
      const id = newSlotId()
      slots.set(id, t + ttlMs)
      let released = false
      return {
        allowed: true,
        limit: max,
        remaining: max - slots.size,
        release: async () => {
          if (released) return
          released = true
          gates.get(key)?.delete(id)
        },
      }
    },
    health: () => 'ok',
  }
}

// KEYS: the buckets. ARGV: for each bucket capacity, refill per second, cost, debit (0/1).
// Refill every bucket to the Redis server's clock; take from all of them only if every one can
// pay (debit buckets always pay); write back and expire each key once it would be full again.
const TAKE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = #KEYS
local levels, ok = {}, true
for i = 1, n do
  local cap, rate, cost, debit = tonumber(ARGV[i*4-3]), tonumber(ARGV[i*4-2]), tonumber(ARGV[i*4-1]), ARGV[i*4]
  local b = redis.call('HMGET', KEYS[i], 'tokens', 'ts')
  local tokens, ts = tonumber(b[1]), tonumber(b[2])
  if tokens == nil or ts == nil then tokens = cap; ts = now end
  tokens = math.min(cap, tokens + math.max(0, now - ts) / 1000 * rate)
  levels[i] = tokens
  if debit ~= '1' and tokens < cost then ok = false end
end
local out = {}
for i = 1, n do
  local cap, rate, cost, debit = tonumber(ARGV[i*4-3]), tonumber(ARGV[i*4-2]), tonumber(ARGV[i*4-1]), ARGV[i*4]
  local after = levels[i]
  if ok or debit == '1' then after = after - cost end
  redis.call('HSET', KEYS[i], 'tokens', tostring(after), 'ts', tostring(now))
  redis.call('PEXPIRE', KEYS[i], math.max(1000, math.ceil((cap - after) / rate * 1000) + 1000))
  local allowed = ok
  if debit == '1' then allowed = ok and after >= 0 end
  out[i*2-1] = allowed and 1 or 0
  out[i*2] = tostring(after)
end
return out
`

// KEYS[1]: the gate (a sorted set of slot ids scored by expiry). ARGV: max, ttl ms, slot id.
// Expired slots are removed in the same script, so a crashed instance's slots free themselves.
const ACQUIRE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local max, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = redis.call('ZCARD', KEYS[1])
if held >= max then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return { 0, held, tonumber(first[2]) - now }
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[3])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[1], math.max(1, tonumber(last[2]) - now))
return { 1, held + 1, 0 }
`

class Script {
  readonly sha: string
  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex')
  }
  /** EVALSHA; when the server lost its script cache (restart, SCRIPT FLUSH), load it and retry once. */
  async run(redis: Redis, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args)
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err
      await redis.script('LOAD', this.source)
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args)
    }
  }
}
const take = new Script(TAKE_SCRIPT)
const acquireScript = new Script(ACQUIRE_SCRIPT)

/** Rejects when `promise` takes longer than `ms`: a hung Redis must not hang every request. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`redis command timed out after ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/**
 * Buckets and gates in Redis under `prefix` (e.g. `qiao:rl:`). Throws when Redis fails or is
 * slower than `timeoutMs`; `createRateLimiter` turns that into the local fallback.
 */
export function createRedisRateLimiter(options: { redis: Redis; prefix: string; timeoutMs?: number }): RateLimiter {
  const { redis, prefix } = options
  const timeoutMs = options.timeoutMs ?? 300

  async function takeAll(specs: BucketSpec[]): Promise<RateDecision> {
    specs.forEach(validate)
    const keys = specs.map((s) => `${prefix}${s.key}`)
    const args = specs.flatMap((s) => [s.capacity, s.refillPerSec, s.cost ?? 1, s.debit ? 1 : 0])
    const raw = (await withTimeout(take.run(redis, keys, args), timeoutMs)) as Array<number | string>
    return decisive(
      specs.map((s, i) => decisionOf(s, { allowed: Number(raw[i * 2]) === 1, tokens: Number(raw[i * 2 + 1]) })),
    )
  }

  return {
    take: (spec) => takeAll([spec]),
    takeAll,
    async acquire({ key, max, ttlMs }) {
      const gate = `${prefix}gate:${key}`
      const id = newSlotId()
      const [ok, held, waitMs] = (await withTimeout(acquireScript.run(redis, [gate], [max, ttlMs, id]), timeoutMs)) as [
        number,
        number,
        number,
      ]
      if (Number(ok) !== 1) {
        return { allowed: false, limit: max, remaining: 0, retryAfterSeconds: Math.max(1, Math.ceil(Number(waitMs) / 1000)) }
      }
      let released = false
      return {
        allowed: true,
        limit: max,
        remaining: Math.max(0, max - Number(held)),
        release: async () => {
          if (released) return
          released = true
          // Best effort: if Redis is gone the slot still expires with its score.
          await withTimeout(redis.zrem(gate, id), timeoutMs).catch(() => undefined)
        },
      }
    },
    health: () => 'ok',
  }
}

/** How much of a limit one instance may grant on its own while the shared store is down. */
export const FALLBACK_DIVISOR = 4

/** The conservative local share of a limit: a quarter, at least one. */
export function fallbackShare(limit: number): number {
  return Math.max(1, Math.ceil(limit / FALLBACK_DIVISOR))
}

/**
 * The limiter the app uses: Redis when configured, with a local fallback whose limits are a
 * quarter of the configured ones (never the full plan per instance), or in-process only.
 * While Redis is failing, it is retried at most every `probeMs`; the outage is logged once when
 * it starts and once when it ends, and `health()` reports `degraded` for /readyz.
 */
export function createRateLimiter(options: {
  redis?: Redis | undefined
  /** Key prefix in Redis, e.g. `qiao:rl:`. */
  prefix: string
  logger: Pick<FastifyBaseLogger, 'warn' | 'info'>
  now?: (() => number) | undefined
  timeoutMs?: number
  probeMs?: number
}): RateLimiter {
  const now = options.now ?? Date.now
  const local = createMemoryRateLimiter(now)
  if (!options.redis) return local
  const shared = createRedisRateLimiter({ redis: options.redis, prefix: options.prefix, timeoutMs: options.timeoutMs })
  const fallback = createMemoryRateLimiter(now)
  const probeMs = options.probeMs ?? 1000
  let downSince: number | undefined
  let lastAttempt = 0

  async function decide<T>(viaRedis: () => Promise<T>, viaFallback: () => Promise<T>): Promise<T> {
    const t = now()
    if (downSince !== undefined && t - lastAttempt < probeMs) return viaFallback()
    lastAttempt = t
    try {
      const result = await viaRedis()
      if (downSince !== undefined) {
        options.logger.info({ downForMs: t - downSince }, 'rate limiter: Redis is back; shared limits restored')
        downSince = undefined
      }
      return result
    } catch (err) {
      if (downSince === undefined) {
        downSince = t
        options.logger.warn(
          { err: err instanceof Error ? err.message : String(err), alert: 'rate_limit_degraded', fallbackDivisor: FALLBACK_DIVISOR },
          'rate limiter: Redis unreachable; enforcing a conservative local limit (1/4 of each limit) until it returns',
        )
      }
      return viaFallback()
    }
  }

  const shrink = (s: BucketSpec): BucketSpec => ({
    ...s,
    capacity: fallbackShare(s.capacity),
    refillPerSec: s.refillPerSec / FALLBACK_DIVISOR,
  })

  return {
    take: (spec) => decide(() => shared.take(spec), () => fallback.take(shrink(spec))),
    takeAll: (specs) => decide(() => shared.takeAll(specs), () => fallback.takeAll(specs.map(shrink))),
    acquire: (o) => decide(() => shared.acquire(o), () => fallback.acquire({ ...o, max: fallbackShare(o.max) })),
    health: () => (downSince === undefined ? 'ok' : 'degraded'),
  }
}

/** The documented rate-limit headers of a decision. */
export function rateLimitHeaders(d: Pick<RateDecision, 'limit' | 'remaining' | 'resetSeconds'>): Record<string, string> {
  return {
    'x-ratelimit-limit': String(d.limit),
    'x-ratelimit-remaining': String(d.remaining),
    'x-ratelimit-reset': String(d.resetSeconds),
  }
}

/** The 429 a denied decision becomes; it carries the headers so the error handler sends them. */
export function rateLimited(d: RateDecision, message = 'Too many requests; slow down and try again shortly'): AppError {
  return new AppError('RATE_LIMITED', message, { retryAfter: d.retryAfterSeconds, headers: rateLimitHeaders(d) })
}

/**
 * Puts `x-ratelimit-*` on the answer of every limited request and throws RATE_LIMITED (429 with
 * `retry-after`) when the decision denies it.
 */
export function enforceRateLimit(reply: FastifyReply, decision: RateDecision): void {
  void reply.headers(rateLimitHeaders(decision))
  if (!decision.allowed) throw rateLimited(decision)
}
