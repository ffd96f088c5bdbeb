import { z } from 'zod'

/**
 * Platform settings an admin edits at run time (GET/PATCH /api/admin/settings). Stored in the
 * `settings` table, one row per top-level key, JSON values. Every field is a bounded integer or a
 * boolean, and objects are strict: unknown keys (`__proto__`, `constructor`) are refused, never
 * merged (SECURITY.md D4).
 */

/** The largest amount of money any single setting or adjustment may carry: 1,000,000 yuan. */
export const MAX_MONEY = 1_000_000_000_000

const count = (max: number) => z.number().int().min(1).max(max)

/** Per-minute budgets the rate limiter enforces (requests and tokens), plus the stream cap. */
export const RateLimitsSchema = z
  .object({
    /** Requests per minute per user (web and API together). */
    userRpm: count(100_000),
    /** Tokens per minute per user. */
    userTpm: count(100_000_000),
    /** Requests per minute per personal API key. */
    keyRpm: count(100_000),
    /** Tokens per minute per personal API key. */
    keyTpm: count(100_000_000),
    /** Requests per minute per IP on /api/auth/*. */
    authPerMinute: count(100_000),
    /** Streams one user may have open at once. */
    maxConcurrentStreams: count(1_000),
    /** Requests per minute per model across the platform (protects the upstream quota). */
    modelRpm: count(1_000_000),
  })
  .strict()
export type RateLimits = z.infer<typeof RateLimitsSchema>

export const PlatformSettingsSchema = z
  .object({
    /** When false, POST /api/auth/register answers 403 REGISTRATION_CLOSED. */
    registrationOpen: z.boolean(),
    /** Micro-yuan credited to every new account (a `signup` ledger entry); 0 = none. */
    defaultBalance: z.number().int().min(0).max(MAX_MONEY),
    rateLimits: RateLimitsSchema,
    /** Days `api_calls` rows are kept; daily roll-ups are kept forever. */
    logRetentionDays: z.number().int().min(1).max(3650),
  })
  .strict()
export type PlatformSettings = z.infer<typeof PlatformSettingsSchema>

/** What a fresh installation runs with until an admin changes something. */
export const DEFAULT_SETTINGS: PlatformSettings = Object.freeze({
  registrationOpen: true,
  defaultBalance: 0,
  rateLimits: Object.freeze({
    userRpm: 60,
    userTpm: 200_000,
    keyRpm: 120,
    keyTpm: 400_000,
    // Generous: mobile carriers put many users behind one address, and token refreshes count too.
    authPerMinute: 120,
    maxConcurrentStreams: 4,
    modelRpm: 600,
  }),
  logRetentionDays: 180,
})

/** PATCH body: any subset; `rateLimits` may itself be partial (merged over the current limits). */
export const UpdateSettingsBodySchema = z
  .object({
    registrationOpen: PlatformSettingsSchema.shape.registrationOpen.optional(),
    defaultBalance: PlatformSettingsSchema.shape.defaultBalance.optional(),
    rateLimits: RateLimitsSchema.partial().strict().optional(),
    logRetentionDays: PlatformSettingsSchema.shape.logRetentionDays.optional(),
  })
  .strict()
export type UpdateSettingsBody = z.infer<typeof UpdateSettingsBodySchema>
