import {
  AdminBalanceBodySchema,
  AdminBalanceResultSchema,
  BalanceSchema,
  IdParamsSchema,
  LedgerEntrySchema,
  PageQuerySchema,
  pageSchema,
} from '@qiao/shared'
import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import type { AppDeps } from '../../context'
import type { Services } from '../../services'
import { clientContext } from '../auth/auth.routes'

/** The caller's balance and ledger — mounted at /api/billing. */
export function billingRoutes(app: FastifyInstance, _deps: AppDeps, services: Services): void {
  const r = app.withTypeProvider<ZodTypeProvider>()

  r.get(
    '/balance',
    {
      config: { auth: 'user' },
      schema: {
        tags: ['billing'],
        summary: 'Your balance, the part held for requests in flight, and what is available',
        security: [{ bearer: [] }],
        response: { 200: BalanceSchema },
      },
    },
    (request) => services.billing.getBalance(request.user!.id),
  )

  r.get(
    '/ledger',
    {
      config: { auth: 'user' },
      schema: {
        tags: ['billing'],
        summary: 'Your credit ledger (every change of your balance), newest first',
        security: [{ bearer: [] }],
        querystring: PageQuerySchema,
        response: { 200: pageSchema(LedgerEntrySchema) },
      },
    },
    (request) => services.billing.listLedger(request.user!.id, request.query),
  )
}

/** An admin's balance adjustment — mounted at /api/admin/users (beside the users feature's routes). */
export function adminBalanceRoutes(app: FastifyInstance, _deps: AppDeps, services: Services): void {
  const r = app.withTypeProvider<ZodTypeProvider>()

  r.post(
    '/:id/balance',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['admin'],
        summary: "Add to or deduct from an account's balance, with a reason (never below zero; audited)",
        security: [{ bearer: [] }],
        params: IdParamsSchema,
        body: AdminBalanceBodySchema,
        response: { 200: AdminBalanceResultSchema },
      },
    },
    async (request) => {
      // A debit is checked against the available balance: first hand back what an idle /v1 lease
      // of this user holds on this instance (docs/adr/0004), so it is not refused for that money.
      if (request.body.delta < 0) await services.leases.yieldFor(request.params.id)
      const entry = await services.billing.adjustByAdmin(
        request.user!.id,
        request.params.id,
        request.body,
        clientContext(request),
      )
      return { user: await services.users.get(request.params.id), entry }
    },
  )
}
