import {
  DEFAULT_SETTINGS,
  type PlatformSettings,
  type UsageCall,
  type UsageCallsQuery,
  type UsageStats,
  type UsageStatsQuery,
  type UsageTotals,
} from '@qiao/shared'
import type { AppDeps } from '../../context'
import { isUniqueViolation } from '../../db/kysely'
import { AppError } from '../../errors'
import { createUsageRepo, type ApiCallRow, type CallPosition, type GroupedSums, type GroupKey } from './usage.repo'
import { csvLine, CSV_COLUMNS } from './csv'

/** Where the retention period comes from: the settings service (admins edit it at run time). */
export interface RetentionSettingsSource {
  get(): Promise<Pick<PlatformSettings, 'logRetentionDays'>>
}

export const USAGE_LIMITS = {
  /** Longest range one statistics query may cover. */
  maxRangeDays: 400,
  /** Default statistics range: the last 30 days, today included. */
  defaultRangeDays: 30,
  /** Rows per database page while streaming a CSV export. */
  csvPageSize: 500,
  /** Days the periodic roll-up recomputes (today and yesterday: late rows land in either). */
  rollupDays: 2,
  /** Days recomputed once at startup, to heal any gap while no instance was running the job. */
  rollupStartupDays: 7,
  /** Calls deleted per statement by the retention purge, and statements per run. */
  purgeBatch: 1000,
  purgeMaxBatches: 200,
} as const

const DAY_MS = 86_400_000
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/

export const utcDay = (d: Date) => d.toISOString().slice(0, 10)
export const addDays = (day: string, n: number) => utcDay(new Date(Date.parse(`${day}T00:00:00.000Z`) + n * DAY_MS))
export const startOfDay = (day: string) => `${day}T00:00:00.000Z`

function parseBound(v: string, field: string): Date {
  const d = new Date(DATE_RE.test(v) ? startOfDay(v) : v)
  // `2026-02-31` parses as March 3rd; a date must survive the round trip.
  if (Number.isNaN(d.getTime()) || (DATE_RE.test(v) && utcDay(d) !== v)) {
    throw new AppError('VALIDATION_FAILED', 'The request is not valid', { details: [{ path: `/${field}`, message: 'not a real date' }] })
  }
  return d
}

/** `from` inclusive: a date means its first instant. */
export const fromBound = (v: string) => parseBound(v, 'from').toISOString()
/** `to` exclusive: a bare date includes its whole day. */
export const toBound = (v: string) =>
  DATE_RE.test(v) ? startOfDay(addDays(utcDay(parseBound(v, 'to')), 1)) : parseBound(v, 'to').toISOString()

/**
 * The inclusive UTC day range of a statistics query: `from`/`to` as given (a timestamp counts
 * for its day), else the last 30 days. Refuses empty and over-long ranges.
 */
export function dayRange(query: { from?: string | undefined; to?: string | undefined }, now: Date) {
  const toDay = query.to ? utcDay(new Date(Date.parse(toBound(query.to)) - 1)) : utcDay(now)
  const fromDay = query.from ? utcDay(new Date(fromBound(query.from))) : addDays(toDay, 1 - USAGE_LIMITS.defaultRangeDays)
  const span = (Date.parse(startOfDay(toDay)) - Date.parse(startOfDay(fromDay))) / DAY_MS + 1
  if (span < 1 || span > USAGE_LIMITS.maxRangeDays) {
    throw new AppError('VALIDATION_FAILED', 'The request is not valid', {
      details: [{ path: '/from', message: `the range must cover 1 to ${USAGE_LIMITS.maxRangeDays} days` }],
    })
  }
  return { fromDay, toDay }
}

function encodeCursor(p: CallPosition): string {
  return Buffer.from(JSON.stringify([p.createdAt, p.id])).toString('base64url')
}

function decodeCursor(cursor: string): CallPosition {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[]
    if (typeof createdAt === 'string' && typeof id === 'string' && createdAt.length <= 40 && id.length <= 64) {
      return { createdAt, id }
    }
  } catch {
    // fall through: a malformed cursor is the client's mistake
  }
  throw new AppError('VALIDATION_FAILED', 'The request is not valid', { details: [{ path: '/cursor', message: 'invalid cursor' }] })
}

export function toUsageCall(r: ApiCallRow): UsageCall {
  return {
    id: r.id,
    requestId: r.requestId,
    source: r.source,
    apiKeyId: r.apiKeyId,
    provider: r.provider,
    model: r.model,
    endpoint: r.endpoint,
    status: r.status,
    httpStatus: r.httpStatus === null ? null : Number(r.httpStatus),
    errorCode: r.errorCode,
    promptTokens: Number(r.promptTokens),
    completionTokens: Number(r.completionTokens),
    cachedTokens: Number(r.cachedTokens),
    reasoningTokens: Number(r.reasoningTokens),
    images: Number(r.images),
    usageEstimated: Number(r.usageEstimated) === 1,
    cost: Number(r.cost),
    latencyMs: r.latencyMs === null ? null : Number(r.latencyMs),
    ttftMs: r.ttftMs === null ? null : Number(r.ttftMs),
    createdAt: r.createdAt,
  }
}

export const emptyTotals = (): UsageTotals => ({ calls: 0, promptTokens: 0, completionTokens: 0, images: 0, cost: 0 })

function addInto(target: UsageTotals, s: UsageTotals): void {
  target.calls += s.calls
  target.promptTokens += s.promptTokens
  target.completionTokens += s.completionTokens
  target.images += s.images
  target.cost += s.cost
}

function callFilter(userId: string, q: Omit<UsageCallsQuery, 'limit' | 'cursor'>) {
  return {
    userId,
    from: q.from ? fromBound(q.from) : undefined,
    to: q.to ? toBound(q.to) : undefined,
    model: q.model,
    status: q.status,
    source: q.source,
  }
}

/**
 * The caller's call log, its CSV export and statistics; the daily roll-up and the retention purge.
 * Every read is scoped to one user (admin statistics live in features/stats).
 */
export function createUsageService(deps: AppDeps, { settings }: { settings?: RetentionSettingsSource | undefined } = {}) {
  const repo = createUsageRepo(deps.db)
  const now = () => (deps.now ? deps.now() : new Date())

  /**
   * Sums per key over whole UTC days. Days before yesterday come from the roll-up; yesterday and
   * today are summed live from `api_calls`, so the answer never waits for the periodic job.
   */
  async function sumDays(options: {
    fromDay: string
    toDay: string
    userId?: string | undefined
    groupBy: GroupKey
  }): Promise<Map<string, UsageTotals>> {
    const liveFrom = [options.fromDay, addDays(utcDay(now()), -1)].sort()[1]!
    const parts: Array<Promise<GroupedSums[]>> = []
    const rolledTo = [options.toDay, addDays(liveFrom, -1)].sort()[0]!
    if (options.fromDay <= rolledTo) {
      parts.push(repo.sumDaily({ fromDay: options.fromDay, toDay: rolledTo, userId: options.userId, groupBy: options.groupBy }))
    }
    if (liveFrom <= options.toDay) {
      parts.push(
        repo.sumCalls({
          from: startOfDay(liveFrom),
          to: startOfDay(addDays(options.toDay, 1)),
          userId: options.userId,
          groupBy: options.groupBy,
        }),
      )
    }
    const merged = new Map<string, UsageTotals>()
    for (const rows of await Promise.all(parts)) {
      for (const { key, ...s } of rows) {
        const t = merged.get(key) ?? emptyTotals()
        addInto(t, s)
        merged.set(key, t)
      }
    }
    return merged
  }

  /** Every day of the range in order, zeros where nothing happened (charts want a continuous axis). */
  function daySeries(fromDay: string, toDay: string, byDay: Map<string, UsageTotals>) {
    const series: Array<UsageTotals & { key: string }> = []
    for (let d = fromDay; d <= toDay; d = addDays(d, 1)) series.push({ key: d, ...(byDay.get(d) ?? emptyTotals()) })
    return series
  }

  function totalOf(groups: Map<string, UsageTotals>): UsageTotals {
    const totals = emptyTotals()
    for (const s of groups.values()) addInto(totals, s)
    return totals
  }

  async function rebuild(fromDay: string, toDay: string): Promise<void> {
    const end = startOfDay(addDays(toDay, 1))
    try {
      await repo.rebuildDaily(fromDay, toDay, end)
    } catch (err) {
      // Two instances rebuilding the same days at once: one may trip over the other's rows (a
      // unique violation or a deadlock). The rebuild is idempotent, so once more settles it.
      const e = err as { code?: string; errno?: number }
      const transient = isUniqueViolation(err) || e.code === '40P01' || e.code === '40001' || e.errno === 1213
      if (!transient) throw err
      await repo.rebuildDaily(fromDay, toDay, end)
    }
  }

  return {
    /** One page of the caller's calls, newest first. */
    async listCalls(userId: string, query: UsageCallsQuery): Promise<{ items: UsageCall[]; nextCursor: string | null }> {
      const rows = await repo.listCalls({
        ...callFilter(userId, query),
        after: query.cursor ? decodeCursor(query.cursor) : undefined,
        limit: query.limit + 1,
      })
      const page = rows.slice(0, query.limit)
      const last = page.at(-1)
      return {
        items: page.map(toUsageCall),
        nextCursor: rows.length > query.limit && last ? encodeCursor(last) : null,
      }
    },

    /**
     * The caller's calls as CSV, produced one database page at a time so an export of any size
     * holds one page in memory. Starts with a UTF-8 BOM so Excel reads Chinese text correctly.
     * Validates the filters before the first byte, so a bad query is still a clean 400.
     */
    exportCsv(userId: string, query: Omit<UsageCallsQuery, 'limit' | 'cursor'>): AsyncGenerator<string> {
      const filter = callFilter(userId, query)
      async function* rows(): AsyncGenerator<string> {
        yield `\uFEFF${csvLine(CSV_COLUMNS.map((c) => c.header))}`
        let after: CallPosition | undefined
        for (;;) {
          const page = await repo.listCalls({ ...filter, after, limit: USAGE_LIMITS.csvPageSize })
          if (page.length) yield page.map((r) => csvLine(CSV_COLUMNS.map((c) => c.value(toUsageCall(r))))).join('')
          if (page.length < USAGE_LIMITS.csvPageSize) return
          after = page.at(-1)
        }
      }
      return rows()
    },

    /**
     * The caller's totals and a series by day or by model. Filtered by model, status or source,
     * the sums come from `api_calls` in one aggregate (the roll-up has no status or source), so
     * they match the call list exactly; unfiltered, from the roll-up plus the live recent days.
     */
    async stats(userId: string, query: UsageStatsQuery): Promise<UsageStats> {
      const { fromDay, toDay } = dayRange(query, now())
      const { model, status, source } = query
      let groups: Map<string, UsageTotals>
      if (model || status || source) {
        const rows = await repo.sumCalls({
          from: startOfDay(fromDay),
          to: startOfDay(addDays(toDay, 1)),
          userId,
          groupBy: query.groupBy,
          model,
          status,
          source,
        })
        groups = new Map(rows.map(({ key, ...s }) => [key, s]))
      } else {
        groups = await sumDays({ fromDay, toDay, userId, groupBy: query.groupBy })
      }
      const series =
        query.groupBy === 'day'
          ? daySeries(fromDay, toDay, groups)
          : [...groups].map(([key, s]) => ({ key, ...s })).sort((a, b) => b.cost - a.cost || b.calls - a.calls)
      return { from: fromDay, to: toDay, groupBy: query.groupBy, totals: totalOf(groups), series }
    },

    /** Shared with the admin statistics: sums per key over whole days, roll-up plus live. */
    sumDays,
    daySeries,
    totalOf,

    /** Recomputes the roll-up for the last `days` days (today included). Idempotent. */
    async rollup(days: number = USAGE_LIMITS.rollupDays): Promise<void> {
      const today = utcDay(now())
      await rebuild(addDays(today, 1 - days), today)
    },

    /**
     * Deletes calls older than the retention period (settings.logRetentionDays), in batches. The
     * daily roll-up is kept forever. Calls the startup roll-up may still recompute are never
     * purged, so a short retention cannot erase days from the roll-up.
     */
    async purgeExpired(): Promise<number> {
      const days = settings ? (await settings.get()).logRetentionDays : DEFAULT_SETTINGS.logRetentionDays
      const retention = new Date(now().getTime() - days * DAY_MS).toISOString()
      const protectedFrom = startOfDay(addDays(utcDay(now()), 1 - USAGE_LIMITS.rollupStartupDays))
      const cutoff = retention < protectedFrom ? retention : protectedFrom
      let deleted = 0
      for (let i = 0; i < USAGE_LIMITS.purgeMaxBatches; i++) {
        const n = await repo.purgeBefore(cutoff, USAGE_LIMITS.purgeBatch)
        deleted += n
        if (n < USAGE_LIMITS.purgeBatch) break
      }
      return deleted
    },
  }
}

export type UsageService = ReturnType<typeof createUsageService>
