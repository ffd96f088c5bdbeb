import { setTimeout as sleep } from 'node:timers/promises'

/**
 * Bounded retry for short transactions that lose a race inside the database (SECURITY.md L2):
 * SQLite `BUSY` (another process holds the write lock past busy_timeout), MySQL/MariaDB deadlock
 * (1213) and lock-wait timeout (1205), PostgreSQL serialization failure (40001) and deadlock
 * (40P01). The engine has already rolled the loser back, so running the whole transaction again
 * is safe — the function passed in must be the WHOLE transaction, never a part of one.
 */
export function isTransientDbError(err: unknown): boolean {
  const e = err as { code?: unknown; errno?: unknown } | null
  if (!e || typeof e !== 'object') return false
  const code = typeof e.code === 'string' ? e.code : ''
  return (
    code.startsWith('SQLITE_BUSY') ||
    code === 'SQLITE_LOCKED' ||
    code === 'ER_LOCK_DEADLOCK' ||
    code === 'ER_LOCK_WAIT_TIMEOUT' ||
    e.errno === 1213 ||
    e.errno === 1205 ||
    code === '40001' ||
    code === '40P01'
  )
}

export interface RetryOptions {
  /** Total tries, the first included. */
  attempts?: number
  /** Told about each retry (for a warning log line). */
  onRetry?: (err: unknown, attempt: number) => void
}

/** Runs `fn`, again after a short jittered pause while it fails with a transient database error. */
export async function withRetry<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 5
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn()
    } catch (err) {
      if (attempt >= attempts || !isTransientDbError(err)) throw err
      options.onRetry?.(err, attempt)
      // Jitter spreads the retries of transactions that collided, so they do not collide again.
      await sleep(Math.floor(Math.random() * 20 * attempt) + 5)
    }
  }
}
