import type { AppDeps } from './context'
import { createAuditService } from './features/audit/audit.service'
import { createAuthService } from './features/auth/auth.service'

/**
 * Every feature's service, built once per app from the same dependencies. Features reach each
 * other only through these objects.
 */
export function createServices(deps: AppDeps) {
  const audit = createAuditService(deps)
  const auth = createAuthService(deps, { audit })
  return { audit, auth }
}

export type Services = ReturnType<typeof createServices>
