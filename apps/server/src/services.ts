import type { AppDeps } from './context'
import { createAuditService } from './features/audit/audit.service'
import { createAuthService } from './features/auth/auth.service'
import { createSettingsService } from './features/settings/settings.service'
import { createBillingService } from './features/billing/billing.service'
import { createChatBillingHooks } from './features/billing/chat-hooks'
import { createCreditLeases } from './features/billing/leases'
import { createUsersService } from './features/users/users.service'
import { createModelsService } from './features/models/models.service'
import { createProvidersService } from './features/providers/providers.service'
import { createProviderRegistry } from './providers/registry'
import { createConversationsService } from './features/conversations/conversations.service'
import { createFilesService } from './features/files/files.service'
import { createChatService } from './features/chat/chat.service'
import { createRateLimitService } from './features/usage/rate-limits.service'
import { createUsageService } from './features/usage/usage.service'
import { createStatsService } from './features/stats/stats.service'
import { createApiKeysService } from './features/apikeys/apikeys.service'
import { createGatewayService } from './features/gateway/gateway.service'

/**
 * Every feature's service, built once per app from the same dependencies. Features reach each
 * other only through these objects.
 */
export function createServices(deps: AppDeps) {
  const audit = createAuditService(deps)
  const settings = createSettingsService(deps, { audit })
  const billing = createBillingService(deps, { audit })
  // /v1 calls hold money through per-user leases and settle in batches (docs/adr/0004).
  const leases = createCreditLeases(deps, { billing }, { flushIntervalMs: deps.config.QIAO_USAGE_FLUSH_MS })
  const auth = createAuthService(deps, { audit, settings, billing })
  const providers = createProviderRegistry(deps, { audit })
  const apiKeys = createApiKeysService(deps, { models: providers })
  // Disabling a user revokes their keys; the key cache must forget them on this instance at once.
  const users = createUsersService(deps, { audit, auth, apiKeys })
  const providerChannels = createProvidersService(deps, { audit, providers })
  const models = createModelsService(deps, { audit, providers })
  const conversations = createConversationsService(deps)
  const files = createFilesService(deps)
  // Every turn reserves its worst case before the upstream call and settles in the finalising
  // transaction; an idle /v1 lease of the same user is handed back first.
  const chat = createChatService(deps, { providers, conversations, files }, { hooks: createChatBillingHooks(billing, leases) })
  const rateLimits = createRateLimitService(deps, { settings })
  const usage = createUsageService(deps, { settings })
  const stats = createStatsService(deps, { usage })
  // The /v1 gateway: the chat turn's pipeline (limits, reservation, registry, settlement) for API keys.
  const gateway = createGatewayService(deps, { providers, billing, leases, apiKeys, rateLimits, chat, files })
  return { audit, settings, billing, leases, auth, users, providers, providerChannels, models, conversations, files, chat, rateLimits, usage, stats, apiKeys, gateway }
}

export type Services = ReturnType<typeof createServices>
