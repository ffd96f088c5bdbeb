import type { FastifyInstance } from 'fastify'
import type { AppDeps } from './context'
import type { Services } from './services'
import { auditRoutes } from './features/audit/audit.routes'
import { authRoutes, jwksRoutes } from './features/auth/auth.routes'
import { usersRoutes } from './features/users/users.routes'
import { adminBalanceRoutes, billingRoutes } from './features/billing/billing.routes'
import { settingsRoutes } from './features/settings/settings.routes'
import { meRoutes } from './features/me/me.routes'
import { adminModelsRoutes, modelsRoutes } from './features/models/models.routes'
import { providersRoutes } from './features/providers/providers.routes'
import { conversationsRoutes } from './features/conversations/conversations.routes'
import { filesRoutes } from './features/files/files.routes'
import { chatRoutes } from './features/chat/chat.routes'
import { usageRoutes } from './features/usage/usage.routes'
import { statsRoutes } from './features/stats/stats.routes'
import { apiKeysRoutes } from './features/apikeys/apikeys.routes'
import { gatewayRoutes } from './features/gateway/gateway.routes'

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
  jwksRoutes(app, deps, services)
  await app.register((f, _o, done) => {
    usersRoutes(f, deps, services)
    done()
  }, { prefix: '/api/admin/users' })
  await app.register((f, _o, done) => {
    auditRoutes(f, deps, services)
    done()
  }, { prefix: '/api/admin/audit-logs' })
  await app.register((f, _o, done) => {
    billingRoutes(f, deps, services)
    done()
  }, { prefix: '/api/billing' })
  await app.register((f, _o, done) => {
    adminBalanceRoutes(f, deps, services)
    done()
  }, { prefix: '/api/admin/users' })
  await app.register((f, _o, done) => {
    settingsRoutes(f, deps, services)
    done()
  }, { prefix: '/api/admin/settings' })
  await app.register((f, _o, done) => {
    modelsRoutes(f, deps, services)
    done()
  }, { prefix: '/api/models' })
  await app.register((f, _o, done) => {
    adminModelsRoutes(f, deps, services)
    done()
  }, { prefix: '/api/admin/models' })
  await app.register((f, _o, done) => {
    providersRoutes(f, deps, services)
    done()
  }, { prefix: '/api/admin/providers' })
  await app.register((f, _o, done) => {
    conversationsRoutes(f, deps, services)
    done()
  }, { prefix: '/api/conversations' })
  await app.register((f, _o, done) => {
    filesRoutes(f, deps, services)
    done()
  }, { prefix: '/api/files' })
  await app.register((f, _o, done) => {
    chatRoutes(f, deps, services)
    done()
  }, { prefix: '/api/conversations' })
  await app.register((f, _o, done) => {
    usageRoutes(f, deps, services)
    done()
  }, { prefix: '/api/usage' })
  await app.register((f, _o, done) => {
    statsRoutes(f, deps, services)
    done()
  }, { prefix: '/api/admin/stats' })
  await app.register((f, _o, done) => {
    apiKeysRoutes(f, deps, services)
    done()
  }, { prefix: '/api/keys' })
  await app.register((f, _o, done) => {
    gatewayRoutes(f, deps, services)
    done()
  }, { prefix: '/v1' })
}
