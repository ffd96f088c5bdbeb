import type { AppDeps } from '../../context'

/** Placeholder until the accounts work lands: records nothing. */
export function createAuditService(_deps: AppDeps) {
  return {
    async record(_entry: { action: string }): Promise<void> {},
  }
}
export type AuditService = ReturnType<typeof createAuditService>
