import { ApiKeyListSchema, CreateApiKeyBodySchema, CreatedApiKeySchema } from '@qiao/shared'
import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { AppDeps } from '../../context'
import type { Services } from '../../services'

/** Personal API keys — mounted at /api/keys. Every route is the signed-in user's own keys only. */
export function apiKeysRoutes(app: FastifyInstance, _deps: AppDeps, services: Services): void {
  const r = app.withTypeProvider<ZodTypeProvider>()
  const common = { tags: ['api keys'], security: [{ bearer: [] }] }

  r.get(
    '/',
    { config: { auth: 'user' }, schema: { ...common, summary: 'Your API keys (never their secrets)', response: { 200: ApiKeyListSchema } } },
    async (request) => ({ items: await services.apiKeys.list(request.user!.id) }),
  )

  r.post(
    '/',
    {
      config: { auth: 'user' },
      schema: {
        ...common,
        summary: 'Create an API key; the secret is in this answer only',
        body: CreateApiKeyBodySchema,
        response: { 201: CreatedApiKeySchema },
      },
    },
    async (request, reply) => {
      const created = await services.apiKeys.create(request.user!.id, request.body)
      // The secret must not linger in any cache between here and the browser.
      void reply.header('cache-control', 'no-store')
      return reply.status(201).send(created)
    },
  )

  r.delete(
    '/:id',
    {
      config: { auth: 'user' },
      schema: { ...common, summary: 'Revoke an API key', params: z.object({ id: z.string().min(1).max(64) }), response: { 204: z.null() } },
    },
    async (request, reply) => {
      await services.apiKeys.revoke(request.user!.id, request.params.id)
      return reply.status(204).send(null)
    },
  )
}
