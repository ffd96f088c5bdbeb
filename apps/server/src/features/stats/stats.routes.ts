import { AdminStatsQuerySchema, AdminStatsSchema } from '@qiao/shared'
import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import type { AppDeps } from '../../context'
import type { Services } from '../../services'

/** The platform dashboard — mounted at /api/admin/stats (admins only). */
export function statsRoutes(app: FastifyInstance, _deps: AppDeps, services: Services): void {
  const r = app.withTypeProvider<ZodTypeProvider>()
  r.get(
    '/',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['admin'],
        security: [{ bearer: [] }],
        summary: 'Platform cost and calls by day, model, channel or user; error rate and latency per channel',
        querystring: AdminStatsQuerySchema,
        response: { 200: AdminStatsSchema },
      },
    },
    (request) => services.stats.platform(request.query),
  )
}
