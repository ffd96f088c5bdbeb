import { hash, randomBytes, timingSafeEqual } from 'node:crypto'
import { API_KEY_SECRET_PREFIX, MAX_ACTIVE_API_KEYS, type ApiKey, type CreateApiKeyBody, type CreatedApiKey } from '@qiao/shared'
import type { ApiKeyCaller, AppDeps } from '../../context'
import { isUniqueViolation } from '../../db/kysely'
import { AppError, notFound } from '../../errors'
import { newId, randomToken } from '../../ids'
import { createApiKeysRepo, type ApiKeyRow, type KeyAuthRow } from './apikeys.repo'

/**
 * Personal API keys (SECURITY.md C7, J4, A6).
 *
 * - The secret is `sk-qiao-` + 32 random bytes in base64url (256 bits). Its first 8 characters
 *   after `sk-qiao-` are the lookup prefix (stored and shown); the whole secret is stored only as
 *   SHA-256 and compared in constant time. A secret whose prefix is unknown is compared against a
 *   dummy hash, so "no such key" and "wrong secret" cost the same (J4).
 * - Keys are only ever presented in headers (`Authorization: Bearer` or `x-api-key`); a key in the
 *   query string is refused, so it never lands in proxy and access logs.
 * - The gateway's hot path authenticates from a per-instance cache (prefix → key row and owner
 *   status) that lives `cacheTtlMs` (5 s). Revoking a key and disabling its owner drop the entries
 *   on this instance at once; other instances notice within the TTL (documented in
 *   features/gateway/README.md). The database row is the truth: revocation is never only in memory.
 * - Monthly limits: the key's spend this UTC calendar month (its `api_calls` cost) is read once
 *   per `cacheTtlMs` and advanced locally as calls settle. Requests already in flight when the
 *   limit is reached may finish, so a key can overshoot by at most what those requests cost.
 */

export type { ApiKeyCaller }

/** The credentials a request presented (services never see the request itself). */
export interface PresentedKey {
  authorization?: string | undefined
  apiKeyHeader?: string | undefined
  /** True when the query string carried `key`, `api_key` or `apiKey`. */
  inQuery?: boolean
}

export interface ApiKeysOptions {
  cacheTtlMs: number
  /** `last_used_at` is written at most this often per key. */
  touchEveryMs: number
  /** Unknown prefixes are remembered too (so junk keys do not each cost a query), up to this many. */
  maxCachedPrefixes: number
}

export const DEFAULT_API_KEYS_OPTIONS: ApiKeysOptions = { cacheTtlMs: 5_000, touchEveryMs: 60_000, maxCachedPrefixes: 10_000 }

/** What the key service needs from the provider registry: the models an account may use. */
export interface ModelCatalogPort {
  listModels(): Promise<Array<{ id: string }>>
}

const SECRET_RE = /^sk-qiao-([A-Za-z0-9_-]{8})[A-Za-z0-9_-]{35}$/
const BEARER_RE = /^Bearer\s+(\S+)\s*$/i

interface CachedKey {
  row: KeyAuthRow | undefined
  hash: Buffer
  caller: ApiKeyCaller | undefined
  expiresAtMs: number | null
  until: number
}

const invalidKey = () => new AppError('UNAUTHENTICATED', 'Incorrect API key provided. You can find your API keys in Qiao under Settings → API keys.')

/** One-shot: no Hash object per call (this runs on every /v1 request). */
const sha256 = (text: string): Buffer => hash('sha256', text, 'buffer')

function parseModels(json: string | null): string[] | null {
  if (json === null) return null
  try {
    const value: unknown = JSON.parse(json)
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []
  } catch {
    // A damaged list must not widen the key to every model.
    return []
  }
}

/** The first instant of the UTC calendar month `at` falls in. */
export function monthStart(at: Date): string {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1)).toISOString()
}

export function createApiKeysService(deps: AppDeps, ports: { models: ModelCatalogPort }, overrides: Partial<ApiKeysOptions> = {}) {
  const options: ApiKeysOptions = { ...DEFAULT_API_KEYS_OPTIONS, ...overrides }
  const repo = createApiKeysRepo(deps.db)
  const now = () => (deps.now ? deps.now() : new Date())
  // A hash no secret has: what an unknown prefix is compared against, so both paths do the same work.
  const dummyHash = sha256(randomBytes(32).toString('hex'))

  const cache = new Map<string, CachedKey>()
  const loading = new Map<string, Promise<CachedKey>>()
  const touched = new Map<string, number>()
  const spend = new Map<string, { month: string; value: number; until: number }>()

  function toCached(row: KeyAuthRow | undefined): CachedKey {
    const models = row ? parseModels(row.allowedModels) : null
    return {
      row,
      hash: row ? Buffer.from(row.keyHash, 'hex') : dummyHash,
      caller: row && {
        apiKeyId: row.id,
        userId: row.userId,
        allowedModels: models ? new Set(models) : null,
        monthlyLimit: row.monthlyLimit === null ? null : Number(row.monthlyLimit),
      },
      expiresAtMs: row?.expiresAt ? Date.parse(row.expiresAt) : null,
      until: Date.now() + options.cacheTtlMs,
    }
  }

  async function lookup(prefix: string): Promise<CachedKey> {
    const hit = cache.get(prefix)
    if (hit && hit.until > Date.now()) return hit
    let pending = loading.get(prefix)
    if (!pending) {
      pending = repo.findAuthByPrefix(prefix).then(
        (row) => {
          loading.delete(prefix)
          // Bounded: a flood of random prefixes cannot grow memory without limit.
          if (cache.size >= options.maxCachedPrefixes) cache.clear()
          const entry = toCached(row)
          cache.set(prefix, entry)
          return entry
        },
        (err: unknown) => {
          loading.delete(prefix)
          throw err
        },
      )
      loading.set(prefix, pending)
    }
    return pending
  }

  function status(row: Pick<ApiKeyRow, 'status' | 'expiresAt'>, at: Date): ApiKey['status'] {
    if (row.status === 'revoked') return 'revoked'
    if (row.expiresAt && Date.parse(row.expiresAt) <= at.getTime()) return 'expired'
    return 'active'
  }

  function toDto(row: ApiKeyRow, monthSpent: number, at: Date): ApiKey {
    return {
      id: row.id,
      name: row.name,
      prefix: row.prefix,
      status: status(row, at),
      allowedModels: parseModels(row.allowedModels),
      monthlyLimit: row.monthlyLimit === null ? null : Number(row.monthlyLimit),
      monthSpent,
      expiresAt: row.expiresAt,
      lastUsedAt: row.lastUsedAt,
      createdAt: row.createdAt,
      revokedAt: row.revokedAt,
    }
  }

  function forgetPrefix(prefix: string): void {
    cache.delete(prefix)
    loading.delete(prefix)
  }

  return {
    options,

    async list(userId: string): Promise<ApiKey[]> {
      const at = now()
      const rows = await repo.listByUser(userId)
      const spent = rows.length ? await repo.spendByKey(userId, monthStart(at)) : new Map<string, number>()
      return rows.map((r) => toDto(r, spent.get(r.id) ?? 0, at))
    },

    /** A new key; `secret` is returned this once. Models must be ones the caller may use (C7). */
    async create(userId: string, body: CreateApiKeyBody): Promise<CreatedApiKey> {
      const at = now()
      if (body.expiresAt && Date.parse(body.expiresAt) <= at.getTime()) {
        throw new AppError('VALIDATION_FAILED', 'The expiry must be in the future', { details: [{ path: '/expiresAt', message: 'in the past' }] })
      }
      let allowed: string[] | null = null
      if (body.allowedModels) {
        const usable = new Set((await ports.models.listModels()).map((m) => m.id))
        const beyond = body.allowedModels.filter((m) => !usable.has(m))
        if (beyond.length) throw new AppError('FORBIDDEN', `A key cannot be granted models you may not use: ${beyond.slice(0, 5).join(', ')}`)
        allowed = [...new Set(body.allowedModels)]
      }
      if ((await repo.countActive(userId)) >= MAX_ACTIVE_API_KEYS) {
        throw new AppError('CONFLICT', `You already have ${MAX_ACTIVE_API_KEYS} active keys; revoke one first`)
      }
      for (let attempt = 1; ; attempt++) {
        const secret = `${API_KEY_SECRET_PREFIX}${randomToken(32)}`
        const prefix = secret.slice(0, API_KEY_SECRET_PREFIX.length + 8)
        const row: ApiKeyRow = {
          id: newId(at.getTime()),
          userId,
          name: body.name,
          prefix,
          keyHash: sha256(secret).toString('hex'),
          allowedModels: allowed ? JSON.stringify(allowed) : null,
          monthlyLimit: body.monthlyLimit ?? null,
          status: 'active',
          expiresAt: body.expiresAt ? new Date(body.expiresAt).toISOString() : null,
          lastUsedAt: null,
          createdAt: at.toISOString(),
          revokedAt: null,
        }
        try {
          await repo.insert(row)
        } catch (err) {
          // 48 random bits of prefix collide about never; if they do, draw again.
          if (isUniqueViolation(err) && attempt < 3) continue
          throw err
        }
        // Someone may have probed this exact prefix before it existed.
        forgetPrefix(prefix)
        return { key: toDto(row, 0, at), secret }
      }
    },

    /** Revokes one of the caller's keys; takes effect on this instance at once. Another user's → 404. */
    async revoke(userId: string, id: string): Promise<void> {
      const row = await repo.findOwned(userId, id)
      if (!row) throw notFound('API key')
      await repo.revoke(userId, id, now().toISOString())
      forgetPrefix(row.prefix)
    },

    /** Drops every cached key of a user (their account was disabled, so their keys were revoked). */
    forgetUser(userId: string): void {
      for (const [prefix, entry] of cache) if (entry.row?.userId === userId) forgetPrefix(prefix)
    },

    /**
     * The caller of a `/v1` request, or 401. Same work for an unknown prefix as for a known one
     * with a wrong secret (J4); revoked, expired and disabled-owner keys are refused after the
     * secret matched, so those messages go only to whoever holds the secret.
     */
    async authenticate(presented: PresentedKey): Promise<ApiKeyCaller> {
      if (presented.inQuery) {
        throw new AppError('UNAUTHENTICATED', 'API keys in the URL are not accepted; send it as "Authorization: Bearer <key>" or "x-api-key".')
      }
      const fromBearer = presented.authorization ? BEARER_RE.exec(presented.authorization)?.[1] : undefined
      const secret = fromBearer ?? presented.apiKeyHeader?.trim()
      if (!secret) throw new AppError('UNAUTHENTICATED', 'You did not provide an API key. Send it as "Authorization: Bearer <key>".')
      const match = SECRET_RE.exec(secret)
      if (!match) throw invalidKey()
      const entry = await lookup(`${API_KEY_SECRET_PREFIX}${match[1]!}`)
      const same = timingSafeEqual(sha256(secret), entry.hash)
      if (!same || !entry.row || !entry.caller) throw invalidKey()
      if (entry.row.status !== 'active') throw new AppError('UNAUTHENTICATED', 'This API key has been revoked.')
      if (entry.row.userStatus !== 'active') throw new AppError('ACCOUNT_DISABLED', 'The account this API key belongs to is disabled.')
      const nowMs = Date.now()
      if (entry.expiresAtMs !== null && entry.expiresAtMs <= (deps.now ? deps.now().getTime() : nowMs)) {
        throw new AppError('UNAUTHENTICATED', 'This API key has expired.')
      }
      const last = touched.get(entry.caller.apiKeyId) ?? 0
      if (nowMs - last >= options.touchEveryMs) {
        touched.set(entry.caller.apiKeyId, nowMs)
        // Off the hot path: usage bookkeeping only, so a failed write just waits for the next chance.
        repo.touch(entry.caller.apiKeyId, now().toISOString()).catch((err: unknown) => deps.logger.warn({ err }, 'api key last-used not recorded'))
      }
      return entry.caller
    },

    /** Throws 402 INSUFFICIENT_BALANCE-style quota refusal when the key's monthly limit is spent. */
    async assertWithinMonthlyLimit(caller: ApiKeyCaller): Promise<void> {
      if (caller.monthlyLimit === null) return
      const at = now()
      const month = monthStart(at)
      let entry = spend.get(caller.apiKeyId)
      if (!entry || entry.month !== month || entry.until <= Date.now()) {
        const value = (await repo.spendByKey(caller.userId, month, [caller.apiKeyId])).get(caller.apiKeyId) ?? 0
        entry = { month, value, until: Date.now() + options.cacheTtlMs }
        spend.set(caller.apiKeyId, entry)
      }
      if (entry.value >= caller.monthlyLimit) {
        throw new AppError('INSUFFICIENT_BALANCE', 'This API key has reached its monthly spending limit.')
      }
    },

    /** A settled call's cost, so the cached monthly spend stays current between reads. */
    noteSpend(apiKeyId: string, cost: number): void {
      const entry = spend.get(apiKeyId)
      if (entry && cost > 0) entry.value += cost
    },
  }
}

export type ApiKeysService = ReturnType<typeof createApiKeysService>
