import { sql } from 'kysely'
import type { Db } from '../../db/kysely'
import type { ApiCallsTable } from '../../db/schema'

export type ApiCallRow = ApiCallsTable

/** Filters of the call list, already normalised to ISO timestamps (`from` inclusive, `to` exclusive). */
export interface CallFilter {
  userId: string
  from?: string | undefined
  to?: string | undefined
  model?: string | undefined
  status?: ApiCallRow['status'] | undefined
  source?: ApiCallRow['source'] | undefined
}

/** Position in the list order (createdAt desc, id desc), as the cursor carries it. */
export interface CallPosition {
  createdAt: string
  id: string
}

export interface UsageSums {
  calls: number
  promptTokens: number
  completionTokens: number
  images: number
  cost: number
}

export type GroupKey = 'day' | 'model' | 'user' | 'none'

export interface GroupedSums extends UsageSums {
  key: string
}

const num = (v: unknown) => Number(v ?? 0)

function sums(row: Record<string, unknown>): UsageSums {
  return {
    calls: num(row.calls),
    promptTokens: num(row.promptTokens),
    completionTokens: num(row.completionTokens),
    images: num(row.images),
    cost: num(row.cost),
  }
}

/** SQL for the call log, its daily roll-up and retention. Every user-facing query is scoped to the owner. */
export function createUsageRepo(db: Db) {
  const k = db.kysely
  // The UTC day of a call: timestamps are ISO text, so the day is their first ten characters.
  const createdDay = sql<string>`substr(${sql.ref('apiCalls.createdAt')}, 1, 10)`

  return {
    /** One page of the owner's calls, newest first, after `after` when given. */
    listCalls(filter: CallFilter & { after?: CallPosition | undefined; limit: number }): Promise<ApiCallRow[]> {
      let q = k.selectFrom('apiCalls').selectAll().where('userId', '=', filter.userId)
      if (filter.from) q = q.where('createdAt', '>=', filter.from)
      if (filter.to) q = q.where('createdAt', '<', filter.to)
      if (filter.model) q = q.where('model', '=', filter.model)
      if (filter.status) q = q.where('status', '=', filter.status)
      if (filter.source) q = q.where('source', '=', filter.source)
      const after = filter.after
      if (after) {
        q = q.where((eb) =>
          eb.or([
            eb('createdAt', '<', after.createdAt),
            eb.and([eb('createdAt', '=', after.createdAt), eb('id', '<', after.id)]),
          ]),
        )
      }
      return q.orderBy('createdAt', 'desc').orderBy('id', 'desc').limit(filter.limit).execute()
    },

    /**
     * Recomputes `usage_daily` for the days `fromDay`..`toDay` (inclusive) from `api_calls`, in one
     * transaction: delete those days, insert their sums. Idempotent; run it as often as you like.
     */
    async rebuildDaily(fromDay: string, toDay: string, endExclusive: string): Promise<void> {
      await k.transaction().execute(async (trx) => {
        await trx.deleteFrom('usageDaily').where('day', '>=', fromDay).where('day', '<=', toDay).execute()
        await trx
          .insertInto('usageDaily')
          .columns(['day', 'userId', 'model', 'calls', 'promptTokens', 'completionTokens', 'images', 'cost'])
          .expression(
            trx
              .selectFrom('apiCalls')
              .select((eb) => [
                createdDay.as('day'),
                'userId',
                'model',
                eb.fn.countAll().as('calls'),
                eb.fn.sum('promptTokens').as('promptTokens'),
                eb.fn.sum('completionTokens').as('completionTokens'),
                eb.fn.sum('images').as('images'),
                eb.fn.sum('cost').as('cost'),
              ])
              .where('createdAt', '>=', `${fromDay}T00:00:00.000Z`)
              .where('createdAt', '<', endExclusive)
              .groupBy([createdDay, 'userId', 'model']),
          )
          .execute()
      })
    },

    /** Sums from the roll-up for the days `fromDay`..`toDay` (inclusive), grouped by `groupBy`. */
    async sumDaily(options: { fromDay: string; toDay: string; userId?: string | undefined; groupBy: GroupKey }): Promise<GroupedSums[]> {
      const key =
        options.groupBy === 'day'
          ? sql<string>`${sql.ref('day')}`
          : options.groupBy === 'model'
            ? sql<string>`${sql.ref('model')}`
            : options.groupBy === 'user'
              ? sql<string>`${sql.ref('userId')}`
              : sql<string>`'all'`
      let q = k
        .selectFrom('usageDaily')
        .select((eb) => [
          key.as('key'),
          eb.fn.sum('calls').as('calls'),
          eb.fn.sum('promptTokens').as('promptTokens'),
          eb.fn.sum('completionTokens').as('completionTokens'),
          eb.fn.sum('images').as('images'),
          eb.fn.sum('cost').as('cost'),
        ])
        .where('day', '>=', options.fromDay)
        .where('day', '<=', options.toDay)
      if (options.userId) q = q.where('userId', '=', options.userId)
      const rows = await (options.groupBy === 'none' ? q : q.groupBy(key)).execute()
      return rows.map((r) => ({ key: String(r.key), ...sums(r) }))
    },

    /**
     * The same sums straight from `api_calls` over a time range: the days the roll-up may lag on,
     * and any query filtered by status or source (dimensions the roll-up does not keep).
     */
    async sumCalls(
      options: {
        from: string
        to: string
        userId?: string | undefined
        groupBy: GroupKey
      } & Pick<CallFilter, 'model' | 'status' | 'source'>,
    ): Promise<GroupedSums[]> {
      const key =
        options.groupBy === 'day'
          ? createdDay
          : options.groupBy === 'model'
            ? sql<string>`${sql.ref('apiCalls.model')}`
            : options.groupBy === 'user'
              ? sql<string>`${sql.ref('apiCalls.userId')}`
              : sql<string>`'all'`
      let q = k
        .selectFrom('apiCalls')
        .select((eb) => [
          key.as('key'),
          eb.fn.countAll().as('calls'),
          eb.fn.sum('promptTokens').as('promptTokens'),
          eb.fn.sum('completionTokens').as('completionTokens'),
          eb.fn.sum('images').as('images'),
          eb.fn.sum('cost').as('cost'),
        ])
        .where('createdAt', '>=', options.from)
        .where('createdAt', '<', options.to)
      if (options.userId) q = q.where('userId', '=', options.userId)
      if (options.model) q = q.where('model', '=', options.model)
      if (options.status) q = q.where('status', '=', options.status)
      if (options.source) q = q.where('source', '=', options.source)
      const rows = await (options.groupBy === 'none' ? q : q.groupBy(key)).execute()
      return rows.map((r) => ({ key: String(r.key), ...sums(r) }))
    },

    /**
     * Deletes up to `batch` calls created before `cutoff`, oldest first; answers how many went.
     * Small batches keep each delete short so it never blocks the writers for long.
     */
    async purgeBefore(cutoff: string, batch: number): Promise<number> {
      const ids = await k
        .selectFrom('apiCalls')
        .select('id')
        .where('createdAt', '<', cutoff)
        .orderBy('createdAt')
        .limit(batch)
        .execute()
      if (!ids.length) return 0
      const result = await k
        .deleteFrom('apiCalls')
        .where(
          'id',
          'in',
          ids.map((r) => r.id),
        )
        .executeTakeFirst()
      return Number(result.numDeletedRows)
    },
  }
}

export type UsageRepo = ReturnType<typeof createUsageRepo>
