import type { AppDeps } from '../../context'
import type { BillingService } from './billing.service'

export const SWEEP_INTERVAL_MS = 60_000

/**
 * Runs the reservation sweeper once now (holds orphaned by the previous process's crash) and then
 * every minute. Returns a stop function that also waits for a sweep in progress.
 */
export async function startBillingJobs(deps: AppDeps, billing: BillingService): Promise<() => Promise<void>> {
  let running: Promise<unknown> = Promise.resolve()
  const sweep = () => {
    running = billing.sweepReservations().catch((err: unknown) => {
      deps.logger.error({ err }, 'credit reservation sweep failed')
    })
    return running
  }
  await sweep()
  const timer = setInterval(() => void sweep(), SWEEP_INTERVAL_MS)
  timer.unref()
  return async () => {
    clearInterval(timer)
    await running
  }
}
