import { AuditLogQuerySchema, AuditLogSchema, pageSchema } from '@qiao/shared'
import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import type { AppDeps } from '../../context'
import type { Services } from '../../services'

/** Admin audit-log viewer, mounted at /api/admin/audit-logs. */
export function auditRoutes(app: FastifyInstance, _deps: AppDeps, services: Services): void {
  const r = app.withTypeProvider<ZodTypeProvider>()
  r.get(
    '/',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'List audit-log entries, newest first',
        security: [{ bearer: [] }],
        querystring: AuditLogQuerySchema,
        response: { 200: pageSchema(AuditLogSchema) },
      },
    },
    (request) => services.audit.list(request.query),
  )
}
