import {
  AddProviderKeyBodySchema,
  ChannelSchema,
  CreateChannelBodySchema,
  IdParamsSchema,
  ProviderKeyTestResultSchema,
  ProviderKeyViewSchema,
  UpdateChannelBodySchema,
  UpdateProviderKeyBodySchema,
} from '@qiao/shared'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { AppDeps } from '../../context'
import type { Services } from '../../services'
import type { Actor } from './providers.service'

const KeyParamsSchema = IdParamsSchema.extend({ keyId: z.string().min(1).max(64) })
const NoContent = z.null().describe('No content')
const admin = { auth: 'admin' as const }
const common = { tags: ['admin'], security: [{ bearer: [] }] }

export function actorOf(request: FastifyRequest): Actor {
  const ua = request.headers['user-agent']
  return { id: request.user!.id, ip: request.ip, userAgent: typeof ua === 'string' ? ua : undefined }
}

/** Upstream channels and their write-only keys — mounted at /api/admin/providers. */
export function providersRoutes(app: FastifyInstance, _deps: AppDeps, services: Services): void {
  const r = app.withTypeProvider<ZodTypeProvider>()
  const svc = services.providerChannels

  r.get(
    '/',
    { config: admin, schema: { ...common, summary: 'List channels with their keys (masked)', response: { 200: z.object({ items: z.array(ChannelSchema) }) } } },
    () => svc.list(),
  )
  r.post(
    '/',
    {
      config: admin,
      schema: { ...common, summary: 'Create a channel; its URL passes the SSRF guard', body: CreateChannelBodySchema, response: { 201: ChannelSchema } },
    },
    async (request, reply) => reply.status(201).send(await svc.create(request.body, actorOf(request))),
  )
  r.get(
    '/:id',
    { config: admin, schema: { ...common, summary: 'One channel', params: IdParamsSchema, response: { 200: ChannelSchema } } },
    (request) => svc.get(request.params.id),
  )
  r.patch(
    '/:id',
    {
      config: admin,
      schema: { ...common, summary: 'Edit a channel', params: IdParamsSchema, body: UpdateChannelBodySchema, response: { 200: ChannelSchema } },
    },
    (request) => svc.update(request.params.id, request.body, actorOf(request)),
  )
  r.delete(
    '/:id',
    { config: admin, schema: { ...common, summary: 'Delete a channel and its keys', params: IdParamsSchema, response: { 204: NoContent } } },
    async (request, reply) => {
      await svc.remove(request.params.id, actorOf(request))
      return reply.status(204).send(null)
    },
  )
  r.get(
    '/:id/keys',
    {
      config: admin,
      schema: { ...common, summary: 'A channel’s keys, masked', params: IdParamsSchema, response: { 200: z.object({ items: z.array(ProviderKeyViewSchema) }) } },
    },
    (request) => svc.listKeys(request.params.id),
  )
  r.post(
    '/:id/keys',
    {
      config: admin,
      schema: {
        ...common,
        summary: 'Add a key (write-only: only its hint is ever shown)',
        params: IdParamsSchema,
        body: AddProviderKeyBodySchema,
        response: { 201: ProviderKeyViewSchema },
      },
    },
    async (request, reply) => reply.status(201).send(await svc.addKey(request.params.id, request.body.secret, actorOf(request))),
  )
  r.patch(
    '/:id/keys/:keyId',
    {
      config: admin,
      schema: {
        ...common,
        summary: 'Enable or disable a key',
        params: KeyParamsSchema,
        body: UpdateProviderKeyBodySchema,
        response: { 200: ProviderKeyViewSchema },
      },
    },
    (request) => svc.updateKey(request.params.id, request.params.keyId, request.body.status, actorOf(request)),
  )
  r.delete(
    '/:id/keys/:keyId',
    { config: admin, schema: { ...common, summary: 'Delete a key', params: KeyParamsSchema, response: { 204: NoContent } } },
    async (request, reply) => {
      await svc.removeKey(request.params.id, request.params.keyId, actorOf(request))
      return reply.status(204).send(null)
    },
  )
  r.post(
    '/:id/keys/:keyId/test',
    {
      config: admin,
      schema: {
        ...common,
        summary: 'Probe a key with the cheapest call its channel allows',
        params: KeyParamsSchema,
        response: { 200: ProviderKeyTestResultSchema },
      },
    },
    (request) => svc.testKey(request.params.id, request.params.keyId, actorOf(request)),
  )
}
