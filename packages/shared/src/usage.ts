import { z } from 'zod'
import { PageQuerySchema } from './common'

/**
 * Usage records and statistics (GET /api/usage/*, GET /api/admin/stats). Money is micro-yuan;
 * days are UTC calendar days (`YYYY-MM-DD`), the same buckets as the `usage_daily` roll-up.
 */

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/

/**
 * `from`/`to` take a day (`2026-11-20`) or an ISO-8601 timestamp. `from` is inclusive; `to` is
 * exclusive for a timestamp and includes the whole day for a bare date.
 */
export const TimeBoundSchema = z
  .string()
  .max(40)
  .refine((v) => (DATE_RE.test(v) || /^\d{4}-\d{2}-\d{2}T/.test(v)) && !Number.isNaN(Date.parse(v)), {
    message: 'a date (YYYY-MM-DD) or an ISO-8601 timestamp',
  })

export const UsageCallStatusSchema = z.enum(['ok', 'error', 'interrupted'])
export const UsageSourceSchema = z.enum(['web', 'api'])
/** A model id as the call filters take it. */
export const UsageModelFilterSchema = z.string().min(1).max(100)

/** GET /api/usage/calls and /calls.csv. */
export const UsageCallsQuerySchema = PageQuerySchema.extend({
  from: TimeBoundSchema.optional(),
  to: TimeBoundSchema.optional(),
  model: UsageModelFilterSchema.optional(),
  status: UsageCallStatusSchema.optional(),
  source: UsageSourceSchema.optional(),
}).strict()
export type UsageCallsQuery = z.infer<typeof UsageCallsQuerySchema>

/** One upstream call as its owner sees it (no channel or upstream internals). */
export const UsageCallSchema = z.object({
  id: z.string(),
  /** Our request id; quote it to support. */
  requestId: z.string(),
  source: UsageSourceSchema,
  /** The personal API key that made the call (`source: "api"`), else null. */
  apiKeyId: z.string().nullable(),
  provider: z.string(),
  model: z.string(),
  endpoint: z.string(),
  status: UsageCallStatusSchema,
  httpStatus: z.number().int().nullable(),
  errorCode: z.string().nullable(),
  promptTokens: z.number().int(),
  completionTokens: z.number().int(),
  cachedTokens: z.number().int(),
  reasoningTokens: z.number().int(),
  images: z.number().int(),
  /** True when the upstream reported no usage and tokens were estimated. */
  usageEstimated: z.boolean(),
  cost: z.number().int(),
  latencyMs: z.number().int().nullable(),
  ttftMs: z.number().int().nullable(),
  createdAt: z.string(),
})
export type UsageCall = z.infer<typeof UsageCallSchema>

export const UsageCallsPageSchema = z.object({ items: z.array(UsageCallSchema), nextCursor: z.string().nullable() })

/** Sums over a set of calls. */
export const UsageTotalsSchema = z.object({
  calls: z.number().int(),
  promptTokens: z.number().int(),
  completionTokens: z.number().int(),
  images: z.number().int(),
  cost: z.number().int(),
})
export type UsageTotals = z.infer<typeof UsageTotalsSchema>

/**
 * GET /api/usage/stats; without `from`/`to` the last 30 days. At most 400 days per query.
 * `model`/`status`/`source` narrow the sums like the call list's filters; with any of them the
 * sums come from the call log, so they cover only calls still within its retention period.
 */
export const UsageStatsQuerySchema = z
  .object({
    from: TimeBoundSchema.optional(),
    to: TimeBoundSchema.optional(),
    groupBy: z.enum(['day', 'model']).default('day'),
    model: UsageModelFilterSchema.optional(),
    status: UsageCallStatusSchema.optional(),
    source: UsageSourceSchema.optional(),
  })
  .strict()
export type UsageStatsQuery = z.infer<typeof UsageStatsQuerySchema>

/** `key` is the day or the model id. Days with no calls are included (zeros) when grouping by day. */
export const UsageSeriesPointSchema = UsageTotalsSchema.extend({ key: z.string() })

export const UsageStatsSchema = z.object({
  from: z.string(),
  to: z.string(),
  groupBy: z.enum(['day', 'model']),
  totals: UsageTotalsSchema,
  series: z.array(UsageSeriesPointSchema),
})
export type UsageStats = z.infer<typeof UsageStatsSchema>

/** GET /api/admin/stats: the whole platform. */
export const AdminStatsQuerySchema = z
  .object({
    from: TimeBoundSchema.optional(),
    to: TimeBoundSchema.optional(),
    groupBy: z.enum(['day', 'model', 'channel', 'user']).default('day'),
  })
  .strict()
export type AdminStatsQuery = z.infer<typeof AdminStatsQuerySchema>

export const AdminStatsPointSchema = UsageTotalsSchema.extend({
  /** The day, model id, channel id (`none` for calls that reached no channel) or user id. */
  key: z.string(),
  /** Channel name or user email, when grouping by those. */
  label: z.string().nullable(),
  /** Per channel only: failed calls, their share, and latency percentiles of the calls that have one. */
  errors: z.number().int().optional(),
  errorRate: z.number().min(0).max(1).optional(),
  latencyP50Ms: z.number().int().nullable().optional(),
  latencyP95Ms: z.number().int().nullable().optional(),
})
export type AdminStatsPoint = z.infer<typeof AdminStatsPointSchema>

export const AdminStatsSchema = z.object({
  from: z.string(),
  to: z.string(),
  groupBy: z.enum(['day', 'model', 'channel', 'user']),
  /** `errors`: failed calls still within the call-log retention period. */
  totals: UsageTotalsSchema.extend({ errors: z.number().int() }),
  series: z.array(AdminStatsPointSchema),
})
export type AdminStats = z.infer<typeof AdminStatsSchema>
