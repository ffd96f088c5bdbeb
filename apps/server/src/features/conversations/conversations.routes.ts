import {
  ConversationSchema,
  CreateConversationBodySchema,
  IdParamsSchema,
  UpdateConversationBodySchema,
  pageSchema,
} from '@qiao/shared'
import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { AppDeps } from '../../context'
import type { Services } from '../../services'
import { contentDisposition } from '../files/content-disposition'
import {
  ConversationListQuerySchema,
  ExportQuerySchema,
  MessageListQuerySchema,
  MessagePageSchema,
} from './conversations.schemas'

/** The caller's conversations — mounted at /api/conversations. The chat turn lives in features/chat. */
export function conversationsRoutes(app: FastifyInstance, _deps: AppDeps, services: Services): void {
  const r = app.withTypeProvider<ZodTypeProvider>()
  const common = { tags: ['conversations'], security: [{ bearer: [] }] }
  const conversations = services.conversations

  r.get(
    '/',
    {
      config: { auth: 'user' },
      schema: {
        ...common,
        summary: 'Your conversations: pinned first, then most recent; `q` searches titles and messages',
        querystring: ConversationListQuerySchema,
        response: { 200: pageSchema(ConversationSchema) },
      },
    },
    (request) => conversations.list(request.user!.id, request.query),
  )

  r.post(
    '/',
    {
      config: { auth: 'user' },
      schema: {
        ...common,
        summary: 'Start a conversation',
        body: CreateConversationBodySchema,
        response: { 201: ConversationSchema },
      },
    },
    async (request, reply) => {
      const conversation = await conversations.create({ userId: request.user!.id, ...request.body })
      return reply.status(201).send(conversation)
    },
  )

  r.get(
    '/:id',
    {
      config: { auth: 'user' },
      schema: {
        ...common,
        summary: 'One of your conversations',
        params: IdParamsSchema,
        response: { 200: ConversationSchema },
      },
    },
    (request) => conversations.get({ userId: request.user!.id, id: request.params.id }),
  )

  r.patch(
    '/:id',
    {
      config: { auth: 'user' },
      schema: {
        ...common,
        summary: 'Rename, pin, archive, or change the model or system prompt',
        params: IdParamsSchema,
        body: UpdateConversationBodySchema,
        response: { 200: ConversationSchema },
      },
    },
    (request) => conversations.update({ userId: request.user!.id, id: request.params.id, patch: request.body }),
  )

  r.delete(
    '/:id',
    {
      config: { auth: 'user' },
      schema: {
        ...common,
        summary: 'Delete a conversation and its messages (uploaded files stay)',
        params: IdParamsSchema,
        response: { 204: z.null().describe('No content') },
      },
    },
    async (request, reply) => {
      await conversations.delete({ userId: request.user!.id, id: request.params.id })
      return reply.status(204).send(null)
    },
  )

  r.get(
    '/:id/messages',
    {
      config: { auth: 'user' },
      schema: {
        ...common,
        summary: 'Messages of the newest branch (or the one through `leafId`), oldest first, with sibling ids',
        params: IdParamsSchema,
        querystring: MessageListQuerySchema,
        response: { 200: MessagePageSchema },
      },
    },
    (request) =>
      conversations.listMessages({ userId: request.user!.id, conversationId: request.params.id, query: request.query }),
  )

  r.get(
    '/:id/export',
    {
      config: { auth: 'user' },
      schema: {
        ...common,
        summary: 'Download the current branch as Markdown or JSON',
        params: IdParamsSchema,
        querystring: ExportQuerySchema,
        produces: ['text/markdown', 'application/json'],
        response: { 200: z.string().describe('The export file') },
      },
    },
    async (request, reply) => {
      const file = await conversations.export({ userId: request.user!.id, id: request.params.id, query: request.query })
      return reply
        .type(file.contentType)
        .header('content-disposition', contentDisposition('attachment', file.fileName))
        .header('cache-control', 'private, no-store')
        .send(file.body)
    },
  )
}
