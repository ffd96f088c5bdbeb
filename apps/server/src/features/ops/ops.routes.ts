import type { FastifyInstance } from 'fastify'
import type { AppDeps } from '../../context'
import { AppError } from '../../errors'
import type { Services } from '../../services'

/** Liveness, readiness and the JWKS — the routes load balancers and other services call. */
export function opsRoutes(app: FastifyInstance, deps: AppDeps, services: Pick<Services, 'rateLimits'>): void {
  app.get('/healthz', { config: { auth: 'public' }, schema: { hide: true } }, () => ({ status: 'ok' }))

  app.get('/readyz', { config: { auth: 'public' }, schema: { hide: true } }, async () => {
    const checks: Record<string, 'ok' | 'down' | 'degraded'> = {}
    try {
      await deps.db.ping()
      checks.database = 'ok'
    } catch {
      checks.database = 'down'
    }
    if (deps.redis) {
      try {
        // A hung Redis must not hang the probe.
        await Promise.race([
          deps.redis.ping(),
          new Promise((_, reject) => setTimeout(() => reject(new Error('redis ping timed out')), 1000).unref()),
        ])
        checks.redis = 'ok'
      } catch {
        checks.redis = 'down'
      }
    }
    // The limiter notices an outage on its next decision; the probe may notice it first.
    checks.rateLimit = checks.redis === 'down' ? 'degraded' : services.rateLimits.health()
    // Only the database makes an instance unfit for traffic. Redis is shared by every instance, so
    // taking them all out of rotation when it fails would turn a degraded service into an outage;
    // instead limits fall back to a conservative local cap and readiness says `degraded`
    // (docs/adr/0003-rate-limits-without-redis.md).
    if (checks.database === 'down') {
      throw new AppError('SERVICE_UNAVAILABLE', `Not ready: ${JSON.stringify(checks)}`, { retryAfter: 5 })
    }
    const degraded = Object.values(checks).some((c) => c !== 'ok')
    return { status: degraded ? 'degraded' : 'ready', checks }
  })
}
