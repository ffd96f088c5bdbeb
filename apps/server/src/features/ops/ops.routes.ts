import type { FastifyInstance } from 'fastify'
import type { AppDeps } from '../../context'
import { AppError } from '../../errors'

/** Liveness, readiness and the JWKS — the routes load balancers and other services call. */
export function opsRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get('/healthz', { config: { auth: 'public' }, schema: { hide: true } }, () => ({ status: 'ok' }))

  app.get('/readyz', { config: { auth: 'public' }, schema: { hide: true } }, async () => {
    const checks: Record<string, 'ok' | 'down'> = {}
    try {
      await deps.db.ping()
      checks.database = 'ok'
    } catch {
      checks.database = 'down'
    }
    if (deps.redis) {
      try {
        await deps.redis.ping()
        checks.redis = 'ok'
      } catch {
        checks.redis = 'down'
      }
    }
    if (Object.values(checks).includes('down')) {
      throw new AppError('SERVICE_UNAVAILABLE', `Not ready: ${JSON.stringify(checks)}`, { retryAfter: 5 })
    }
    return { status: 'ready', checks }
  })
}
