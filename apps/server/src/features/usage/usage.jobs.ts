import type { FastifyBaseLogger } from 'fastify'
import { USAGE_LIMITS, type UsageService } from './usage.service'

export const USAGE_JOB_INTERVALS = {
  /** The roll-up of today and yesterday; statistics read those days live anyway. */
  rollupMs: 5 * 60_000,
  /** The retention purge. */
  purgeMs: 60 * 60_000,
}

/**
 * Runs the daily roll-up and the retention purge on timers. Every instance runs them: both jobs
 * are idempotent, so N instances only repeat work. Returns a stop function that clears the timers
 * and waits for a run in progress, so shutdown never closes the database under a job.
 */
export function startUsageJobs(
  usage: Pick<UsageService, 'rollup' | 'purgeExpired'>,
  logger: Pick<FastifyBaseLogger, 'info' | 'error'>,
  intervals = USAGE_JOB_INTERVALS,
): () => Promise<void> {
  let running: Promise<void> = Promise.resolve()
  let stopped = false

  const run = (name: string, job: () => Promise<unknown>) => {
    if (stopped) return
    // Runs never overlap: a slow purge delays the next roll-up instead of racing it.
    running = running.then(async () => {
      if (stopped) return
      try {
        const result = await job()
        if (typeof result === 'number' && result > 0) logger.info({ job: name, deleted: result }, 'usage job done')
      } catch (err) {
        logger.error({ err, job: name }, 'usage job failed; it will run again on its next tick')
      }
    })
  }

  // At boot, heal the last week in case no instance ran the roll-up for a while.
  run('rollup', () => usage.rollup(USAGE_LIMITS.rollupStartupDays))
  run('purge', () => usage.purgeExpired())
  const timers = [
    setInterval(() => run('rollup', () => usage.rollup()), intervals.rollupMs),
    setInterval(() => run('purge', () => usage.purgeExpired()), intervals.purgeMs),
  ]
  for (const t of timers) t.unref()

  return async () => {
    stopped = true
    for (const t of timers) clearInterval(t)
    await running
  }
}
