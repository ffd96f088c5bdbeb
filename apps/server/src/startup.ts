import type { App } from './app'
import type { AppDeps } from './context'
import { bootstrapAdmin } from './features/auth/bootstrap'
import { startBillingJobs } from './features/billing/billing.jobs'
import { grantDemoCredit } from './features/billing/demo-credit'
import { startChatSweeper } from './features/chat/sweeper'
import { startUsageJobs } from './features/usage/usage.jobs'
import { startProviders } from './providers/seed'

/**
 * One-time work at boot after the app is built (bootstrap the admin, seed channels, start
 * background jobs). Returns a function that stops the background work on shutdown.
 */
export async function startup(_app: App, _deps: AppDeps): Promise<() => Promise<void>> {
  await bootstrapAdmin(_app, _deps)
  // Before the sweeper can return the dead process's leases: its journaled calls are charged from them.
  await _app.services.leases.recover()
  await grantDemoCredit(_deps, _app.services)
  const stopProviders = await startProviders(_deps, _app.services.providers)
  const stopBillingJobs = await startBillingJobs(_deps, _app.services.billing)
  const stopChatSweeper = await startChatSweeper(_app.services.chat, _deps.logger)
  const stopUsageJobs = startUsageJobs(_app.services.usage, _deps.logger)
  return async () => {
    await stopUsageJobs()
    await stopBillingJobs()
    await stopChatSweeper()
    await stopProviders()
  }
}
