import { ChangePasswordBodySchema, UpdateMeBodySchema, UserSchema } from '@qiao/shared'
import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { AppDeps } from '../../context'
import type { Services } from '../../services'
import { clientContext } from '../auth/auth.routes'

/** The caller's own account — mounted at /api/me. Bodies are strict: unknown fields are a 400 (C6). */
export function meRoutes(app: FastifyInstance, _deps: AppDeps, services: Services): void {
  const r = app.withTypeProvider<ZodTypeProvider>()
  const { auth } = services

  r.get(
    '/',
    {
      config: { auth: 'user' },
      schema: { tags: ['me'], summary: 'Your account', security: [{ bearer: [] }], response: { 200: UserSchema } },
    },
    (request) => auth.getMe(request.user!.id),
  )

  r.patch(
    '/',
    {
      config: { auth: 'user' },
      schema: {
        tags: ['me'],
        summary: 'Change your display name or preferences',
        security: [{ bearer: [] }],
        body: UpdateMeBodySchema,
        response: { 200: UserSchema },
      },
    },
    (request) => auth.updateMe(request.user!.id, request.body),
  )

  r.post(
    '/password',
    {
      config: { auth: 'user' },
      schema: {
        tags: ['me'],
        summary: 'Change your password (signs out your other sessions)',
        security: [{ bearer: [] }],
        body: ChangePasswordBodySchema,
        response: { 204: z.null().describe('No content') },
      },
    },
    async (request, reply) => {
      await auth.changePassword(request.user!, request.body, clientContext(request))
      return reply.code(204).send(null)
    },
  )
}
