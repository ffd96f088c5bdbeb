import { MessageSchema, RegenerateBodySchema, SendMessageBodySchema } from '@qiao/shared'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { AppDeps } from '../../context'
import { AppError } from '../../errors'
import type { Services } from '../../services'
import type { PreparedTurn, TurnInput } from './chat.service'
import { preparedHeaders, SseWriter } from './sse-writer'
import { enforceRateLimit, rateLimitHeaders } from '../../platform/rate-limit'

/** Chat turns — mounted at /api/conversations beside the conversations routes. */

const TurnParamsSchema = z.object({ id: z.string().min(1).max(64) })
const RegenerateParamsSchema = z.object({ id: z.string().min(1).max(64), messageId: z.string().min(1).max(64) })
const TurnAnswerSchema = z.object({
  userMessage: MessageSchema,
  assistantMessage: MessageSchema,
  usage: z.object({ promptTokens: z.number().int(), completionTokens: z.number().int(), cost: z.number().int() }),
})
/** Printable ASCII, as in the IETF Idempotency-Key draft; anything else is refused, not trimmed. */
const IDEMPOTENCY_KEY_RE = /^[\x21-\x7e]{1,255}$/

const SSE_DESCRIPTION =
  'With `Accept: text/event-stream` the answer streams as SSE events `message` (user, then assistant), `delta` ' +
  '{text|reasoning}, then exactly one `done` {message, usage} or `error` {code, message, partialMessage}; `ping` is a ' +
  'heartbeat. Otherwise the JSON below. Closing the connection stops generation and keeps the partial answer. ' +
  'An optional `Idempotency-Key` header makes a repeat replay instead of calling the model again.'

function idempotencyKeyOf(request: FastifyRequest): string | undefined {
  const raw = request.headers['idempotency-key']
  if (raw === undefined) return undefined
  const key = Array.isArray(raw) ? raw[0] : raw
  if (!key || !IDEMPOTENCY_KEY_RE.test(key)) {
    throw new AppError('VALIDATION_FAILED', 'The Idempotency-Key header is not valid', { details: [{ path: '/headers/idempotency-key', message: '1–255 printable characters' }] })
  }
  return key
}

const wantsSse = (request: FastifyRequest) => (request.headers.accept ?? '').includes('text/event-stream')

export function chatRoutes(app: FastifyInstance, _deps: AppDeps, services: Services): void {
  const r = app.withTypeProvider<ZodTypeProvider>()
  const common = { tags: ['conversations'], security: [{ bearer: [] }] }

  // Live streams are stopped and stored before the server stops accepting connections (M3).
  app.addHook('preClose', async () => {
    await services.chat.drain()
  })

  /**
   * Rate limits (SECURITY.md G4), checked before anything is stored: the user's and the model's
   * requests per minute and token budget, then a slot among the user's concurrent answers, held
   * until the answer has ended however it ends. The tokens a turn used are charged afterwards.
   */
  async function limited<T>(
    request: FastifyRequest,
    reply: FastifyReply,
    model: string | undefined,
    go: (charge: (t: PreparedTurn) => PreparedTurn) => Promise<T>,
  ): Promise<T> {
    const userId = request.user!.id
    enforceRateLimit(reply, await services.rateLimits.checkUserRequest({ userId, model }))
    const slot = await services.rateLimits.acquireStream(userId)
    if (!slot.allowed) {
      throw new AppError('RATE_LIMITED', 'Too many answers at once; wait for one to finish', {
        retryAfter: slot.retryAfterSeconds,
        headers: rateLimitHeaders({ limit: slot.limit, remaining: 0, resetSeconds: slot.retryAfterSeconds }),
      })
    }
    const charge = (turn: PreparedTurn): PreparedTurn => ({
      ...turn,
      run: async (sink) => {
        const result = await turn.run(sink)
        const tokens = result.usage.promptTokens + result.usage.completionTokens
        await services.rateLimits.chargeTokens({ userId, tokens }).catch((err: unknown) => request.log.warn({ err }, 'token budget not charged'))
        return result
      },
    })
    try {
      return await go(charge)
    } finally {
      await slot.release()
    }
  }

  /** Runs a prepared turn as SSE or JSON, whichever the client asked for. */
  async function answer(request: FastifyRequest, reply: FastifyReply, turn: PreparedTurn) {
    if (wantsSse(request)) {
      await stream(request, reply, turn)
      return reply
    }
    const onClose = () => {
      if (!reply.raw.writableFinished) turn.abort('client')
    }
    reply.raw.on('close', onClose)
    try {
      const result = await turn.run({ delta: async () => true })
      // Both messages are stored whatever happened; the status says how the answer ended.
      if (result.error) throw result.error
      return { userMessage: result.userMessage, assistantMessage: result.message, usage: result.usage }
    } finally {
      reply.raw.off('close', onClose)
    }
  }

  async function stream(request: FastifyRequest, reply: FastifyReply, turn: PreparedTurn): Promise<void> {
    const { options } = services.chat
    reply.hijack()
    const sse = new SseWriter(reply.raw, { heartbeatMs: options.heartbeatMs, drainTimeoutMs: options.sseDrainTimeoutMs })
    sse.onClose((why) => turn.abort(why === 'slow_reader' ? 'slow_reader' : 'client'))
    try {
      sse.open(preparedHeaders(reply))
      await sse.send({ event: 'message', data: { message: turn.userMessage } })
      await sse.send({ event: 'message', data: { message: turn.assistantMessage } })
    } catch (err) {
      request.log.error({ err }, 'chat stream could not start')
      turn.abort('client')
    }
    try {
      // Runs even when the stream could not start: an aborted turn is finalised at once, never left streaming.
      const result = await turn.run({ delta: (d) => sse.send({ event: 'delta', data: d }) })
      if (result.status === 'complete') {
        await sse.send({ event: 'done', data: { message: result.message, usage: result.usage } })
      } else if (result.error) {
        await sse.send({ event: 'error', data: { code: result.error.code, message: result.error.message, partialMessage: result.message } })
      }
      // Interrupted by the client: nobody is listening any more.
    } catch (err) {
      request.log.error({ err }, 'chat stream failed')
      await sse.send({ event: 'error', data: { code: 'INTERNAL', message: 'Something went wrong on our side' } })
    } finally {
      sse.end()
    }
  }

  r.post(
    '/:id/messages',
    {
      config: { auth: 'user' },
      schema: {
        ...common,
        summary: 'Send a message and get the answer (SSE or JSON)',
        description: SSE_DESCRIPTION,
        params: TurnParamsSchema,
        body: SendMessageBodySchema,
        response: { 200: TurnAnswerSchema },
      },
    },
    async (request, reply) => {
      const input: TurnInput = {
        userId: request.user!.id,
        conversationId: request.params.id,
        content: request.body.content,
        model: request.body.model,
        attachments: request.body.attachments,
        parentId: request.body.parentId,
        thinking: request.body.thinking,
        idempotencyKey: idempotencyKeyOf(request),
      }
      return limited(request, reply, input.model, async (charge) => answer(request, reply, charge(await services.chat.prepare(input))))
    },
  )

  r.post(
    '/:id/messages/:messageId/regenerate',
    {
      config: { auth: 'user' },
      schema: {
        ...common,
        summary: 'Answer a message again, as a new branch (SSE or JSON)',
        description: SSE_DESCRIPTION,
        params: RegenerateParamsSchema,
        // A body is optional: a bare POST (no content type) reaches validation as null.
        body: RegenerateBodySchema.nullish(),
        response: { 200: TurnAnswerSchema },
      },
    },
    async (request, reply) =>
      limited(request, reply, request.body?.model, async (charge) => {
        const turn = await services.chat.prepare({
          userId: request.user!.id,
          conversationId: request.params.id,
          regenerateOf: request.params.messageId,
          model: request.body?.model,
          thinking: request.body?.thinking,
          idempotencyKey: idempotencyKeyOf(request),
        })
        return answer(request, reply, charge(turn))
      }),
  )
}
