import { Readable } from 'node:stream'
import { UsageCallsPageSchema, UsageCallsQuerySchema, UsageStatsQuerySchema, UsageStatsSchema } from '@qiao/shared'
import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { AppDeps } from '../../context'
import type { Services } from '../../services'

const CsvQuerySchema = UsageCallsQuerySchema.omit({ limit: true, cursor: true })

/** The caller's own usage — mounted at /api/usage. Always scoped to the signed-in user. */
export function usageRoutes(app: FastifyInstance, deps: AppDeps, services: Services): void {
  const r = app.withTypeProvider<ZodTypeProvider>()
  const common = { tags: ['usage'], security: [{ bearer: [] }] }
  const { usage } = services

  r.get(
    '/calls',
    {
      config: { auth: 'user' },
      schema: {
        ...common,
        summary: 'Your upstream calls, newest first, with filters',
        querystring: UsageCallsQuerySchema,
        response: { 200: UsageCallsPageSchema },
      },
    },
    (request) => usage.listCalls(request.user!.id, request.query),
  )

  r.get(
    '/calls.csv',
    {
      config: { auth: 'user' },
      schema: {
        ...common,
        summary: 'Your upstream calls as a CSV download (same filters), streamed',
        querystring: CsvQuerySchema,
        // A stream, so no serializer runs; documented as text.
        response: { 200: z.any().describe('CSV (text/csv), UTF-8 with a byte-order mark') },
      },
    },
    (request, reply) => {
      const rows = usage.exportCsv(request.user!.id, request.query)
      const day = (deps.now ? deps.now() : new Date()).toISOString().slice(0, 10).replace(/-/g, '')
      // A stream, never a whole string: Fastify pipes it page by page with chunked encoding.
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="qiao-usage-${day}.csv"`)
        .header('cache-control', 'no-store')
        .send(Readable.from(rows))
    },
  )

  r.get(
    '/stats',
    {
      config: { auth: 'user' },
      schema: {
        ...common,
        summary: 'Your totals and a series by day or by model',
        querystring: UsageStatsQuerySchema,
        response: { 200: UsageStatsSchema },
      },
    },
    (request) => usage.stats(request.user!.id, request.query),
  )
}
