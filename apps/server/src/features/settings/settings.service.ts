import {
  DEFAULT_SETTINGS,
  PlatformSettingsSchema,
  RateLimitsSchema,
  type PlatformSettings,
  type UpdateSettingsBody,
} from '@qiao/shared'
import type { AppDeps } from '../../context'
import { isUniqueViolation } from '../../db/kysely'
import type { AuditService } from '../audit/audit.service'
import type { ClientContext } from '../auth/auth.service'
import { createSettingsRepo } from './settings.repo'

/**
 * Platform settings (registration, sign-up credit, rate limits, retention).
 *
 * Storage: the `settings` table, one row per top-level key of PlatformSettings, the value JSON —
 * `registrationOpen` → `false`, `defaultBalance` → `5000000`, `rateLimits` → `{"userRpm":10}`
 * (a partial object, merged over the defaults), `logRetentionDays` → `90`. A missing or invalid
 * row means the default (an invalid one is logged), so a hand-edited table never breaks boot.
 *
 * Reads are cached per instance for CACHE_MS and invalidated by this instance's writes; another
 * instance sees a change within CACHE_MS. Security toggles read with `{ fresh: true }`.
 */
export const SETTINGS_CACHE_MS = 5_000

const KEYS = ['registrationOpen', 'defaultBalance', 'rateLimits', 'logRetentionDays'] as const
type Key = (typeof KEYS)[number]

function deepFreeze(settings: PlatformSettings): PlatformSettings {
  Object.freeze(settings.rateLimits)
  return Object.freeze(settings)
}

export function createSettingsService(deps: AppDeps, { audit }: { audit: AuditService }) {
  const repo = createSettingsRepo(deps.db)
  const now = () => (deps.now ? deps.now() : new Date())
  let cache: { value: PlatformSettings; loadedAt: number } | undefined

  function parseRow(key: Key, raw: string): Partial<PlatformSettings> | undefined {
    let json: unknown
    try {
      json = JSON.parse(raw)
    } catch {
      return undefined
    }
    // Each key is checked on its own, so one bad row does not discard the others.
    const shape = PlatformSettingsSchema.shape
    switch (key) {
      case 'registrationOpen': {
        const r = shape.registrationOpen.safeParse(json)
        return r.success ? { registrationOpen: r.data } : undefined
      }
      case 'defaultBalance': {
        const r = shape.defaultBalance.safeParse(json)
        return r.success ? { defaultBalance: r.data } : undefined
      }
      case 'rateLimits': {
        const r = RateLimitsSchema.partial().strict().safeParse(json)
        return r.success ? { rateLimits: { ...DEFAULT_SETTINGS.rateLimits, ...r.data } } : undefined
      }
      case 'logRetentionDays': {
        const r = shape.logRetentionDays.safeParse(json)
        return r.success ? { logRetentionDays: r.data } : undefined
      }
    }
  }

  async function load(): Promise<PlatformSettings> {
    const settings: PlatformSettings = { ...DEFAULT_SETTINGS, rateLimits: { ...DEFAULT_SETTINGS.rateLimits } }
    for (const row of await repo.list(KEYS)) {
      const key = KEYS.find((k) => k === row.key)
      if (!key) continue
      const parsed = parseRow(key, row.value)
      if (parsed) Object.assign(settings, parsed)
      else deps.logger.warn({ key }, 'ignoring an invalid settings row; using the default')
    }
    return deepFreeze(settings)
  }

  async function write(key: Key, value: unknown, actorId: string): Promise<void> {
    const row = { key, value: JSON.stringify(value), updatedAt: now().toISOString(), updatedBy: actorId }
    if (await repo.update(row)) return
    try {
      await repo.insert(row)
    } catch (err) {
      // Another writer inserted the row first: ours is the later write, so update it.
      if (!isUniqueViolation(err)) throw err
      await repo.update(row)
    }
  }

  const service = {
    /** The current settings (frozen). `fresh` skips the cache — for security decisions. */
    async get(options: { fresh?: boolean } = {}): Promise<PlatformSettings> {
      if (!options.fresh && cache && Date.now() - cache.loadedAt < SETTINGS_CACHE_MS) return cache.value
      const value = await load()
      cache = { value, loadedAt: Date.now() }
      return value
    },

    /** Forgets the cached copy (after a direct write to the table, e.g. in a test or a CLI). */
    invalidate(): void {
      cache = undefined
    },

    /**
     * Stores `defaultBalance` only when no value was ever stored — a system default (the offline
     * demo's credit) that never overrides an admin's choice. True when it was stored now.
     */
    async ensureDefaultBalance(amount: number): Promise<boolean> {
      const existing = await repo.list(['defaultBalance'])
      if (existing.length) return false
      try {
        await repo.insert({ key: 'defaultBalance', value: JSON.stringify(amount), updatedAt: now().toISOString(), updatedBy: null })
      } catch (err) {
        if (isUniqueViolation(err)) return false
        throw err
      }
      cache = undefined
      return true
    },

    /**
     * Applies a validated partial update (rate limits merge key by key) and audits the keys that
     * changed with their values before and after.
     */
    async update(actorId: string, patch: UpdateSettingsBody, ctx: ClientContext): Promise<PlatformSettings> {
      const before = await service.get({ fresh: true })
      // Built from named fields only — never by spreading the request body (D4).
      const after = PlatformSettingsSchema.parse({
        registrationOpen: patch.registrationOpen ?? before.registrationOpen,
        defaultBalance: patch.defaultBalance ?? before.defaultBalance,
        rateLimits: { ...before.rateLimits, ...(patch.rateLimits ?? {}) },
        logRetentionDays: patch.logRetentionDays ?? before.logRetentionDays,
      })
      const changed = KEYS.filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]))
      for (const key of changed) await write(key, after[key], actorId)
      cache = undefined
      if (changed.length) {
        await audit.record({
          actorId,
          action: 'settings.updated',
          targetType: 'settings',
          severity: 'warning',
          ip: ctx.ip,
          userAgent: ctx.userAgent,
          details: {
            before: Object.fromEntries(changed.map((key) => [key, before[key]])),
            after: Object.fromEntries(changed.map((key) => [key, after[key]])),
          },
        })
      }
      return service.get({ fresh: true })
    },
  }
  return service
}
export type SettingsService = ReturnType<typeof createSettingsService>
