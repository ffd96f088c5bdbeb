import type { FastifyInstance } from 'fastify'
import type { AppDeps } from './context'
import type { Services } from './services'
import { authRoutes } from './features/auth/auth.routes'
import { meRoutes } from './features/me/me.routes'

/**
 * The route table: one line per feature. Each feature's routes live in its own folder and
 * declare `config.auth` on every route.
 */
export async function registerFeatureRoutes(app: FastifyInstance, deps: AppDeps, services: Services): Promise<void> {
  await app.register((f, _o, done) => {
    authRoutes(f, deps, services)
    done()
  }, { prefix: '/api/auth' })
  await app.register((f, _o, done) => {
    meRoutes(f, deps, services)
    done()
  }, { prefix: '/api/me' })
}
