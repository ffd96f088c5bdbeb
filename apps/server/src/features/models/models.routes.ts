import { AdminModelSchema, ModelInfoSchema, UpdateModelBodySchema } from '@qiao/shared'
import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { AppDeps } from '../../context'
import type { Services } from '../../services'
import { actorOf } from '../providers/providers.routes'

const ModelIdParamsSchema = z.object({ id: z.string().min(1).max(100) })

/** The catalog users pick from — mounted at /api/models. */
export function modelsRoutes(app: FastifyInstance, _deps: AppDeps, services: Services): void {
  const r = app.withTypeProvider<ZodTypeProvider>()
  r.get(
    '/',
    {
      config: { auth: 'user' },
      schema: {
        tags: ['models'],
        summary: 'Models you can use; emulated ones are flagged',
        security: [{ bearer: [] }],
        response: { 200: z.object({ items: z.array(ModelInfoSchema) }) },
      },
    },
    () => services.models.list(),
  )
}

/** The catalog as admins edit it — mounted at /api/admin/models. */
export function adminModelsRoutes(app: FastifyInstance, _deps: AppDeps, services: Services): void {
  const r = app.withTypeProvider<ZodTypeProvider>()
  const common = { tags: ['admin'], security: [{ bearer: [] }] }
  r.get(
    '/',
    {
      config: { auth: 'admin' },
      schema: { ...common, summary: 'Every model, with prices and where they came from', response: { 200: z.object({ items: z.array(AdminModelSchema) }) } },
    },
    () => services.models.adminList(),
  )
  r.patch(
    '/:id',
    {
      config: { auth: 'admin' },
      schema: {
        ...common,
        summary: 'Edit a model’s name, prices or availability',
        params: ModelIdParamsSchema,
        body: UpdateModelBodySchema,
        response: { 200: AdminModelSchema },
      },
    },
    (request) => services.models.update(request.params.id, request.body, actorOf(request)),
  )
}
