import type { Db } from '../../db/kysely'

const num = (v: unknown) => Number(v ?? 0)

export interface ChannelSums {
  key: string
  calls: number
  promptTokens: number
  completionTokens: number
  images: number
  cost: number
  errors: number
}

/** Platform-wide SQL for the admin dashboard (calls of every user; admins only reach it). */
export function createStatsRepo(db: Db) {
  const k = db.kysely
  return {
    /** Per channel over a time range: sums and failed calls (`channelId` null = no channel reached). */
    async sumByChannel(options: { from: string; to: string }): Promise<ChannelSums[]> {
      const rows = await k
        .selectFrom('apiCalls')
        .select((eb) => [
          'channelId',
          eb.fn.countAll().as('calls'),
          eb.fn.sum('promptTokens').as('promptTokens'),
          eb.fn.sum('completionTokens').as('completionTokens'),
          eb.fn.sum('images').as('images'),
          eb.fn.sum('cost').as('cost'),
          eb.fn.sum(eb.case().when('status', '=', 'error').then(1).else(0).end()).as('errors'),
        ])
        .where('createdAt', '>=', options.from)
        .where('createdAt', '<', options.to)
        .groupBy('channelId')
        .execute()
      return rows.map((r) => ({
        key: r.channelId ?? 'none',
        calls: num(r.calls),
        promptTokens: num(r.promptTokens),
        completionTokens: num(r.completionTokens),
        images: num(r.images),
        cost: num(r.cost),
        errors: num(r.errors),
      }))
    },

    /** Failed calls over a time range. */
    async countErrors(options: { from: string; to: string }): Promise<number> {
      const row = await k
        .selectFrom('apiCalls')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('createdAt', '>=', options.from)
        .where('createdAt', '<', options.to)
        .where('status', '=', 'error')
        .executeTakeFirst()
      return num(row?.n)
    },

    /** Latencies of the most recent `limit` calls in a range that have one, for percentiles. */
    recentLatencies(options: { from: string; to: string; limit: number }) {
      return k
        .selectFrom('apiCalls')
        .select(['channelId', 'latencyMs'])
        .where('createdAt', '>=', options.from)
        .where('createdAt', '<', options.to)
        .where('latencyMs', 'is not', null)
        .orderBy('createdAt', 'desc')
        .limit(options.limit)
        .execute()
    },

    channelNames(ids: string[]) {
      if (!ids.length) return Promise.resolve([])
      return k.selectFrom('providerChannels').select(['id', 'name']).where('id', 'in', ids).execute()
    },

    userEmails(ids: string[]) {
      if (!ids.length) return Promise.resolve([])
      return k.selectFrom('users').select(['id', 'email']).where('id', 'in', ids).execute()
    },
  }
}

export type StatsRepo = ReturnType<typeof createStatsRepo>
