import {
  AdminUpdateUserBodySchema,
  AdminUserQuerySchema,
  AdminUserSchema,
  IdParamsSchema,
  pageSchema,
} from '@qiao/shared'
import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import type { AppDeps } from '../../context'
import type { Services } from '../../services'
import { clientContext } from '../auth/auth.routes'

/** Admin user management — mounted at /api/admin/users. */
export function usersRoutes(app: FastifyInstance, _deps: AppDeps, services: Services): void {
  const r = app.withTypeProvider<ZodTypeProvider>()

  r.get(
    '/',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'List and search accounts, newest first, with usage totals',
        security: [{ bearer: [] }],
        querystring: AdminUserQuerySchema,
        response: { 200: pageSchema(AdminUserSchema) },
      },
    },
    (request) => services.users.list(request.query),
  )

  r.patch(
    '/:id',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['admin'],
        summary: "Change an account's role or status (disabling signs it out everywhere)",
        security: [{ bearer: [] }],
        params: IdParamsSchema,
        body: AdminUpdateUserBodySchema,
        response: { 200: AdminUserSchema },
      },
    },
    (request) => services.users.update(request.user!, request.params.id, request.body, clientContext(request)),
  )
}
