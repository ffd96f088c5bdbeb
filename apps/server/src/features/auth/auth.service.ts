import type { FastifyRequest } from 'fastify'
import type { AppDeps, AuthUser } from '../../context'
import { unauthenticated } from '../../errors'
import type { AuditService } from '../audit/audit.service'

/** Placeholder until the accounts work lands: nobody is authenticated. */
export function createAuthService(_deps: AppDeps, _s: { audit: AuditService }) {
  return {
    authenticate(_request: FastifyRequest): Promise<AuthUser> {
      return Promise.reject(unauthenticated())
    },
  }
}
export type AuthService = ReturnType<typeof createAuthService>
