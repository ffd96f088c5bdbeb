import { PlatformSettingsSchema, UpdateSettingsBodySchema } from '@qiao/shared'
import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import type { AppDeps } from '../../context'
import type { Services } from '../../services'
import { clientContext } from '../auth/auth.routes'

/** Platform settings — mounted at /api/admin/settings. */
export function settingsRoutes(app: FastifyInstance, _deps: AppDeps, services: Services): void {
  const r = app.withTypeProvider<ZodTypeProvider>()

  r.get(
    '/',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'The platform settings: registration, sign-up credit, rate limits, retention',
        security: [{ bearer: [] }],
        response: { 200: PlatformSettingsSchema },
      },
    },
    () => services.settings.get({ fresh: true }),
  )

  r.patch(
    '/',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Change some settings (rate limits merge key by key); audited',
        security: [{ bearer: [] }],
        body: UpdateSettingsBodySchema,
        response: { 200: PlatformSettingsSchema },
      },
    },
    (request) => services.settings.update(request.user!.id, request.body, clientContext(request)),
  )
}
