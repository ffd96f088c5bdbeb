import type { AdminStats, AdminStatsPoint, AdminStatsQuery } from '@qiao/shared'
import type { AppDeps } from '../../context'
import { addDays, dayRange, startOfDay, type UsageService } from '../usage/usage.service'
import { createStatsRepo } from './stats.repo'

export const ADMIN_STATS_LIMITS = {
  /** Latency percentiles are computed over at most this many of the range's most recent calls. */
  latencySample: 20_000,
  /** Series by model, channel or user list the biggest spenders first, at most this many. */
  maxSeries: 100,
} as const

/** Nearest-rank percentile of an ascending list; null when there is nothing to rank. */
export function percentile(sorted: number[], p: number): number | null {
  if (!sorted.length) return null
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!
}

/**
 * The admin dashboard: platform cost and calls by day, model, channel or user, plus error rate
 * and latency per channel. Totals and the day/model/user series come from the daily roll-up
 * (kept forever, live for today and yesterday); the channel series needs the call log, so it
 * covers the calls still within the retention period.
 */
export function createStatsService(deps: AppDeps, { usage }: { usage: Pick<UsageService, 'sumDays' | 'daySeries' | 'totalOf'> }) {
  const repo = createStatsRepo(deps.db)
  const now = () => (deps.now ? deps.now() : new Date())

  async function channelSeries(from: string, to: string): Promise<AdminStatsPoint[]> {
    const [rows, latencies] = await Promise.all([
      repo.sumByChannel({ from, to }),
      repo.recentLatencies({ from, to, limit: ADMIN_STATS_LIMITS.latencySample }),
    ])
    const byChannel = new Map<string, number[]>()
    for (const l of latencies) {
      const key = l.channelId ?? 'none'
      const list = byChannel.get(key) ?? []
      list.push(Number(l.latencyMs))
      byChannel.set(key, list)
    }
    const top = rows.sort((a, b) => b.cost - a.cost || b.calls - a.calls).slice(0, ADMIN_STATS_LIMITS.maxSeries)
    const names = new Map((await repo.channelNames(top.map((r) => r.key).filter((k) => k !== 'none'))).map((c) => [c.id, c.name]))
    return top.map((r) => {
      const sorted = (byChannel.get(r.key) ?? []).sort((a, b) => a - b)
      return {
        ...r,
        label: names.get(r.key) ?? null,
        errorRate: r.calls ? r.errors / r.calls : 0,
        latencyP50Ms: percentile(sorted, 0.5),
        latencyP95Ms: percentile(sorted, 0.95),
      }
    })
  }

  return {
    async platform(query: AdminStatsQuery): Promise<AdminStats> {
      const { fromDay, toDay } = dayRange(query, now())
      const from = startOfDay(fromDay)
      const to = startOfDay(addDays(toDay, 1))
      const groupBy = query.groupBy
      const [all, errors] = await Promise.all([
        usage.sumDays({ fromDay, toDay, groupBy: 'none' }),
        repo.countErrors({ from, to }),
      ])
      const totals = { ...usage.totalOf(all), errors }

      let series: AdminStatsPoint[]
      if (groupBy === 'channel') {
        series = await channelSeries(from, to)
      } else if (groupBy === 'day') {
        const groups = await usage.sumDays({ fromDay, toDay, groupBy: 'day' })
        series = usage.daySeries(fromDay, toDay, groups).map((p) => ({ ...p, label: null }))
      } else {
        const groups = await usage.sumDays({ fromDay, toDay, groupBy })
        const top = [...groups]
          .map(([key, s]) => ({ key, ...s }))
          .sort((a, b) => b.cost - a.cost || b.calls - a.calls)
          .slice(0, ADMIN_STATS_LIMITS.maxSeries)
        const emails = new Map<string, string>(
          groupBy === 'user' ? (await repo.userEmails(top.map((p) => p.key))).map((u) => [u.id, u.email]) : [],
        )
        series = top.map((p) => ({ ...p, label: emails.get(p.key) ?? null }))
      }
      return { from: fromDay, to: toDay, groupBy, totals, series }
    },
  }
}

export type StatsService = ReturnType<typeof createStatsService>
