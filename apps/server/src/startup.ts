import type { App } from './app'
import type { AppDeps } from './context'

/**
 * One-time work at boot after the app is built (bootstrap the admin, seed channels, start
 * background jobs). Returns a function that stops the background work on shutdown.
 */
export async function startup(_app: App, _deps: AppDeps): Promise<() => Promise<void>> {
  return async () => {}
}
