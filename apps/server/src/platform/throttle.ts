import type { Redis } from 'ioredis'

/**
 * Fixed-window attempt counters for login and sign-up throttling. One interface, two stores:
 * in-process (single instance, the embedded default) and Redis (shared by every instance, so N
 * instances never allow N times the limit). Counters are advisory rate limits only; account
 * lockout itself lives in SQL (SECURITY.md invariant 5).
 */
export interface ThrottleStore {
  /** Counts one attempt under `key`; the window starts at the first attempt. */
  hit(key: string, windowMs: number): Promise<ThrottleState>
  /** The current count without adding to it. */
  peek(key: string): Promise<ThrottleState>
  reset(key: string): Promise<void>
}

export interface ThrottleState {
  count: number
  /** Milliseconds until the window ends (0 when no window is open). */
  resetInMs: number
}

/** Raised when the shared store cannot be reached: callers fail closed (503), never open. */
export class ThrottleUnavailableError extends Error {
  constructor(cause: unknown) {
    super('throttle store unavailable', { cause })
    this.name = 'ThrottleUnavailableError'
  }
}

/** Keeps windows in a Map; expired entries are pruned lazily so memory stays bounded by live keys. */
export function createMemoryThrottleStore(now: () => number = Date.now): ThrottleStore {
  const windows = new Map<string, { count: number; endsAt: number }>()
  let lastSweep = now()

  function sweep(t: number): void {
    // Sweep at most once a minute; lookups already ignore expired windows.
    if (t - lastSweep < 60_000) return
    lastSweep = t
    for (const [key, w] of windows) if (w.endsAt <= t) windows.delete(key)
  }

  function live(key: string, t: number) {
    const w = windows.get(key)
    if (w && w.endsAt > t) return w
    if (w) windows.delete(key)
    return undefined
  }

  return {
    async hit(key, windowMs) {
      const t = now()
      sweep(t)
      let w = live(key, t)
      if (!w) {
        w = { count: 0, endsAt: t + windowMs }
        windows.set(key, w)
      }
      w.count += 1
      return { count: w.count, resetInMs: w.endsAt - t }
    },
    async peek(key) {
      const t = now()
      const w = live(key, t)
      return w ? { count: w.count, resetInMs: w.endsAt - t } : { count: 0, resetInMs: 0 }
    },
    async reset(key) {
      windows.delete(key)
    },
  }
}

// INCR and set the expiry only when the window is new, atomically, then report the remaining TTL.
const HIT_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return { n, ttl }
`

/** Redis store: one key per counter under `prefix`, expiring with its window. */
export function createRedisThrottleStore(redis: Redis, prefix = 'qiao:throttle:'): ThrottleStore {
  async function guarded<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op()
    } catch (err) {
      throw new ThrottleUnavailableError(err)
    }
  }
  return {
    hit: (key, windowMs) =>
      guarded(async () => {
        const [count, ttl] = (await redis.eval(HIT_SCRIPT, 1, prefix + key, String(windowMs))) as [number, number]
        return { count: Number(count), resetInMs: Math.max(0, Number(ttl)) }
      }),
    peek: (key) =>
      guarded(async () => {
        const [count, ttl] = await Promise.all([redis.get(prefix + key), redis.pttl(prefix + key)])
        return count === null ? { count: 0, resetInMs: 0 } : { count: Number(count), resetInMs: Math.max(0, ttl) }
      }),
    reset: (key) =>
      guarded(async () => {
        await redis.del(prefix + key)
      }),
  }
}

/** Redis when the app has one (shared limits across instances), otherwise in-process. */
export function createThrottleStore(options: {
  redis?: Redis | undefined
  now?: (() => Date) | undefined
  /** Redis key prefix; defaults to `qiao:throttle:`. */
  prefix?: string | undefined
}): ThrottleStore {
  const deps = options
  if (deps.redis) return createRedisThrottleStore(deps.redis, deps.prefix)
  const clock = deps.now
  return createMemoryThrottleStore(clock ? () => clock().getTime() : Date.now)
}
