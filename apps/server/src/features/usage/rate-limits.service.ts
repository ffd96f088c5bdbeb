import { createHash } from 'node:crypto'
import { DEFAULT_SETTINGS, type RateLimits } from '@qiao/shared'
import type { Config } from '../../config'
import type { AppDeps } from '../../context'
import {
  createRateLimiter,
  type BucketSpec,
  type GateResult,
  type RateDecision,
  type RateLimiter,
} from '../../platform/rate-limit'

/** Where the limits come from: the settings service (admins edit them at run time). */
export interface RateLimitSettingsSource {
  get(): Promise<{ rateLimits: RateLimits }>
}

/**
 * How long a stream slot lives if its holder never releases it (a crashed instance): longer than
 * any stream may run, short enough that a lost slot does not lock a user out for long.
 */
export const STREAM_SLOT_TTL_MS = 30 * 60_000

/**
 * The Redis key prefix of this installation. Tests that do not set QIAO_REDIS_PREFIX get one
 * derived from their private data dir, so suites sharing one Redis never see each other's counters
 * while two instances of one test (same data dir or same explicit prefix) still share them.
 */
export function redisPrefix(config: Pick<Config, 'QIAO_REDIS_PREFIX' | 'NODE_ENV' | 'QIAO_DATA_DIR'>): string {
  if (config.QIAO_REDIS_PREFIX) return config.QIAO_REDIS_PREFIX
  if (config.NODE_ENV === 'test') {
    return `qiao:t:${createHash('sha256').update(config.QIAO_DATA_DIR).digest('hex').slice(0, 12)}:`
  }
  return 'qiao:'
}

const perMinute = (key: string, n: number, cost = 1, debit = false): BucketSpec => ({
  key,
  capacity: n,
  refillPerSec: n / 60,
  cost,
  debit,
})

/**
 * The platform's limits, read from settings on every decision: requests and tokens per minute
 * per user, per personal API key and per model, requests per minute per IP on the auth routes,
 * and a cap on one user's concurrent streams. Decisions are returned, not thrown: the route
 * turns them into headers and a 429 with `enforceRateLimit`.
 */
export function createRateLimitService(deps: AppDeps, { settings }: { settings?: RateLimitSettingsSource | undefined }) {
  const limiter: RateLimiter = createRateLimiter({
    redis: deps.redis,
    prefix: `${redisPrefix(deps.config)}rl:`,
    logger: deps.logger,
    now: deps.now ? () => deps.now!().getTime() : undefined,
  })
  const limits = async (): Promise<RateLimits> => (settings ? (await settings.get()).rateLimits : DEFAULT_SETTINGS.rateLimits)

  return {
    /** `degraded` while Redis is unreachable and a conservative local cap decides (for /readyz). */
    health: () => limiter.health(),

    /**
     * Before a web chat turn: one request from the user's and the model's per-minute budgets, and
     * the user must not be in token debt. All or nothing, so a denial costs no budget.
     */
    async checkUserRequest({ userId, model }: { userId: string; model?: string | undefined }): Promise<RateDecision> {
      const l = await limits()
      return limiter.takeAll([
        perMinute(`user:rpm:${userId}`, l.userRpm),
        perMinute(`user:tpm:${userId}`, l.userTpm),
        // Only when the caller names the model; a conversation's default is resolved later.
        ...(model ? [perMinute(`model:rpm:${model}`, l.modelRpm)] : []),
      ])
    },

    /** Before a /v1 call with a personal key: the key's budgets, then its owner's, then the model's. */
    async checkKeyRequest({ apiKeyId, userId, model }: { apiKeyId: string; userId: string; model: string }) {
      const l = await limits()
      return limiter.takeAll([
        perMinute(`key:rpm:${apiKeyId}`, l.keyRpm),
        perMinute(`key:tpm:${apiKeyId}`, l.keyTpm),
        perMinute(`user:rpm:${userId}`, l.userRpm),
        perMinute(`user:tpm:${userId}`, l.userTpm),
        perMinute(`model:rpm:${model}`, l.modelRpm),
      ])
    },

    /**
     * After a call: the tokens it used come off the per-minute token budgets (into debt if need
     * be), so the next request waits until the budget has refilled.
     */
    async chargeTokens({ userId, apiKeyId, tokens }: { userId: string; apiKeyId?: string | null; tokens: number }) {
      if (!(tokens > 0)) return
      const l = await limits()
      await limiter.take(perMinute(`user:tpm:${userId}`, l.userTpm, tokens, true))
      if (apiKeyId) await limiter.take(perMinute(`key:tpm:${apiKeyId}`, l.keyTpm, tokens, true))
    },

    /** A slot among the user's concurrent streams; release it when the stream ends, however it ends. */
    async acquireStream(userId: string): Promise<GateResult> {
      const l = await limits()
      return limiter.acquire({ key: `streams:${userId}`, max: l.maxConcurrentStreams, ttlMs: STREAM_SLOT_TTL_MS })
    },

    /** Requests per minute from one IP on a group of routes (`auth`: everything under /api/auth). */
    async checkIp(ip: string, scope: 'auth'): Promise<RateDecision> {
      const l = await limits()
      return limiter.take(perMinute(`ip:${scope}:${ip}`, l.authPerMinute))
    },
  }
}

export type RateLimitService = ReturnType<typeof createRateLimitService>
