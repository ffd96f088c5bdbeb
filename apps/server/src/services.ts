import type { AppDeps } from './context'
import { createAuditService } from './features/audit/audit.service'
import { createAuthService } from './features/auth/auth.service'
import { createUsersService } from './features/users/users.service'
import { createModelsService } from './features/models/models.service'
import { createProvidersService } from './features/providers/providers.service'
import { createProviderRegistry } from './providers/registry'
import { createConversationsService } from './features/conversations/conversations.service'
import { createFilesService } from './features/files/files.service'

/**
 * Every feature's service, built once per app from the same dependencies. Features reach each
 * other only through these objects.
 */
export function createServices(deps: AppDeps) {
  const audit = createAuditService(deps)
  const auth = createAuthService(deps, { audit })
  const users = createUsersService(deps, { audit, auth })
  const providers = createProviderRegistry(deps, { audit })
  const providerChannels = createProvidersService(deps, { audit, providers })
  const models = createModelsService(deps, { audit, providers })
  const conversations = createConversationsService(deps)
  const files = createFilesService(deps)
  return { audit, auth, users, providers, providerChannels, models, conversations, files }
}

export type Services = ReturnType<typeof createServices>
