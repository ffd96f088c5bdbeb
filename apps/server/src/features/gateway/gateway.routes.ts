import type { Socket } from 'node:net'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { AppDeps } from '../../context'
import { AppError } from '../../errors'
import { rateLimitHeaders } from '../../platform/rate-limit'
import type { Services } from '../../services'
import type { MeteredUsage } from '../chat/metering'
import { preparedHeaders, SseWriter } from '../chat/sse-writer'
import {
  ChatCompletionBodySchema,
  ChatCompletionSchema,
  EmbeddingListSchema,
  EmbeddingsBodySchema,
  ImagesBodySchema,
  ImagesResponseSchema,
  ModelListSchema,
  ModelObjectSchema,
  type ChatCompletion,
} from './gateway.schemas'
import type { ChatCall, ChatOutcome, RelayEvent } from './gateway.service'
import { installOpenAiErrorHandler, toOpenAiError } from './openai-errors'

/** The OpenAI-compatible API — mounted at /v1, authenticated by personal API keys (README.md). */

/** Headers that would choose the upstream host (SECURITY F2): refused, never used. */
const FORBIDDEN_HEADERS = ['x-base-url', 'x-api-base', 'x-openai-base-url', 'x-upstream-url']

/** Models carry no creation time of their own; a fixed one keeps answers stable. */
const MODEL_CREATED = 1_735_689_600

function usageOf(u: MeteredUsage) {
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.promptTokens + u.completionTokens,
    prompt_tokens_details: { cached_tokens: u.cachedTokens },
    completion_tokens_details: { reasoning_tokens: u.reasoningTokens },
  }
}

function completionOf(call: ChatCall, out: ChatOutcome): ChatCompletion {
  const toolCalls = out.toolCalls.length
    ? out.toolCalls.map((t) => ({ id: t.id, type: t.type, function: { name: t.function.name, arguments: t.function.arguments } }))
    : undefined
  return {
    id: call.id,
    object: 'chat.completion',
    created: call.created,
    model: call.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: toolCalls && !out.text ? null : out.text,
          ...(out.reasoning ? { reasoning_content: out.reasoning } : {}),
          ...(toolCalls ? { tool_calls: toolCalls } : {}),
        },
        finish_reason: out.finishReason,
        logprobs: null,
      },
    ],
    usage: usageOf(out.usage),
    system_fingerprint: null,
  }
}

/** The streamed delta for one relayed event: only content, reasoning and tool calls (E3). */
function deltaOf(ev: RelayEvent): Record<string, unknown> {
  switch (ev.type) {
    case 'text':
      return { content: ev.delta }
    case 'reasoning':
      return { reasoning_content: ev.delta }
    case 'tool_call':
      return {
        tool_calls: [
          {
            index: ev.index,
            ...(ev.id ? { id: ev.id, type: 'function' } : {}),
            function: { ...(ev.name ? { name: ev.name } : {}), arguments: ev.argumentsDelta },
          },
        ],
      }
  }
}

const connectionSignals = new WeakMap<Socket, AbortSignal>()

/**
 * Aborts when the client's connection closes while its answer is still being made: the client
 * left. A closed connection carries nothing more, so the requests of one keep-alive connection
 * share a signal (an AbortController per request was a measurable share of a proxied call's CPU);
 * once an answer is written nothing reads it any more.
 */
function clientGone(request: FastifyRequest): AbortSignal {
  const socket = request.raw.socket
  if (socket.destroyed) return AbortSignal.abort()
  let signal = connectionSignals.get(socket)
  if (!signal) {
    const controller = new AbortController()
    signal = controller.signal
    connectionSignals.set(socket, signal)
    socket.once('close', () => controller.abort())
  }
  return signal
}

export function gatewayRoutes(app: FastifyInstance, _deps: AppDeps, services: Services): void {
  const r = app.withTypeProvider<ZodTypeProvider>()
  const common = { tags: ['openai-compatible'], security: [{ bearer: [] }] }
  installOpenAiErrorHandler(app)

  // The answers are built field by field from typed objects above (nothing upstream-shaped is
  // passed through), so the response schemas document them without re-parsing every answer
  // through zod on the hot path: plain JSON.stringify.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data))

  app.addHook('onRequest', (request, _reply, done) => {
    const header = FORBIDDEN_HEADERS.find((h) => request.headers[h] !== undefined)
    if (header) {
      done(new AppError('VALIDATION_FAILED', 'Choosing the upstream is not allowed', { details: [{ path: `/headers/${header}`, message: 'not allowed' }] }))
      return
    }
    done()
  })

  r.get(
    '/models',
    { config: { auth: 'apiKey' }, schema: { ...common, summary: 'Models this key may use', response: { 200: ModelListSchema } } },
    async (request) => ({
      object: 'list' as const,
      data: (await services.gateway.listModels(request.apiKey!)).map((m) => ({ id: m.id, object: 'model' as const, created: MODEL_CREATED, owned_by: m.provider })),
    }),
  )

  r.get(
    '/models/:model',
    {
      config: { auth: 'apiKey' },
      schema: { ...common, summary: 'One model', params: z.object({ model: z.string().min(1).max(100) }), response: { 200: ModelObjectSchema } },
    },
    async (request) => {
      const m = (await services.gateway.listModels(request.apiKey!)).find((x) => x.id === request.params.model)
      if (!m) throw new AppError('MODEL_NOT_FOUND', `The model \`${request.params.model}\` does not exist or you do not have access to it.`)
      return { id: m.id, object: 'model' as const, created: MODEL_CREATED, owned_by: m.provider }
    },
  )

  r.post(
    '/chat/completions',
    {
      config: { auth: 'apiKey' },
      schema: {
        ...common,
        summary: 'Chat completion (OpenAI wire format; SSE with `stream: true`)',
        description:
          'With `stream: true` the answer is `data:` chunks (`chat.completion.chunk`), a usage chunk when ' +
          '`stream_options.include_usage`, then `data: [DONE]`; an upstream failure after the first chunk is a ' +
          'final `data: {"error": …}` without `[DONE]`. Closing the connection stops the upstream; what was ' +
          'generated is billed.',
        body: ChatCompletionBodySchema,
        response: { 200: ChatCompletionSchema },
      },
    },
    async (request, reply) => {
      const call = await services.gateway.startChat(request.apiKey!, request.body)
      void reply.headers(rateLimitHeaders(call.rate))
      const signal = clientGone(request)
      if (request.body.stream === true) {
        await stream(request, reply, call, signal, request.body.stream_options?.include_usage === true)
        return reply
      }
      const out = await call.run({ signal, onEvent: async () => undefined })
      if (out.error) throw out.error
      if (out.status === 'interrupted') {
        // Nobody is listening; the call is recorded and billed for what was made.
        reply.hijack()
        reply.raw.destroy()
        return reply
      }
      return completionOf(call, out)
    },
  )

  async function stream(request: FastifyRequest, reply: FastifyReply, call: ChatCall, signal: AbortSignal, includeUsage: boolean): Promise<void> {
    const { options } = services.chat
    let sse: SseWriter | undefined
    const chunk = (delta: Record<string, unknown>, finishReason: string | null = null) => ({
      id: call.id,
      object: 'chat.completion.chunk',
      created: call.created,
      model: call.model,
      choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
      ...(includeUsage ? { usage: null } : {}),
    })
    // Opened at the first upstream event, so a failure before it is an ordinary HTTP error status.
    const open = async (): Promise<SseWriter> => {
      reply.hijack()
      // The status line and headers, the opening comment and the first chunk leave in one write
      // (one packet) rather than two: the client sees its first `data:` sooner.
      const socket = reply.raw.socket
      if (socket && !socket.writableCorked) {
        socket.cork()
        process.nextTick(() => socket.uncork())
      }
      const w = new SseWriter(reply.raw, { heartbeatMs: options.heartbeatMs, drainTimeoutMs: options.sseDrainTimeoutMs, commentHeartbeat: true })
      sse = w
      w.open(preparedHeaders(reply))
      await w.sendData(chunk({ role: 'assistant', content: '' }))
      return w
    }
    const out = await call.run({
      signal,
      // Awaiting each write is the back-pressure: a slow reader slows the upstream read.
      onEvent: async (ev) => (sse ?? (await open())).sendData(chunk(deltaOf(ev))),
    })
    if (!sse) {
      if (out.error) throw out.error
      if (out.status === 'interrupted') {
        reply.hijack()
        reply.raw.destroy()
        return
      }
    }
    const w = sse ?? (await open())
    try {
      if (out.status === 'error' && out.error) {
        await w.sendData({ error: toOpenAiError(out.error).body.error })
      } else if (out.status === 'ok') {
        await w.sendData(chunk({}, out.finishReason))
        if (includeUsage) {
          await w.sendData({ id: call.id, object: 'chat.completion.chunk', created: call.created, model: call.model, choices: [], usage: usageOf(out.usage) })
        }
        await w.sendData('[DONE]')
      }
    } catch (err) {
      request.log.error({ err }, 'gateway stream failed')
    } finally {
      w.end()
    }
  }

  r.post(
    '/embeddings',
    {
      config: { auth: 'apiKey' },
      schema: { ...common, summary: 'Embeddings (OpenAI wire format)', body: EmbeddingsBodySchema, response: { 200: EmbeddingListSchema } },
    },
    async (request, reply) => {
      const { result, rate } = await services.gateway.embeddings(request.apiKey!, request.body, clientGone(request))
      void reply.headers(rateLimitHeaders(rate))
      return result
    },
  )

  r.post(
    '/images/generations',
    {
      config: { auth: 'apiKey' },
      schema: {
        ...common,
        summary: 'Text to image (waits for the Wanx task)',
        description:
          'Creates the upstream image task and waits for it (polling with backoff) for up to 120 s; past that the ' +
          'answer is 504 `upstream_timeout` and nothing is billed. `url` answers point at Qiao (signed, valid one ' +
          'hour); `b64_json` answers inline PNG. Billed per image produced.',
        body: ImagesBodySchema,
        response: { 200: ImagesResponseSchema },
      },
    },
    async (request, reply) => {
      const { result, rate } = await services.gateway.images(request.apiKey!, request.body, clientGone(request))
      void reply.headers(rateLimitHeaders(rate))
      return result
    },
  )

  // The signature in the query is the credential: image URLs must open in a browser or `curl`.
  r.get(
    '/images/files/:fileId',
    {
      config: { auth: 'public' },
      schema: {
        ...common,
        summary: 'An image made through /v1/images/generations (signed link)',
        params: z.object({ fileId: z.string().min(1).max(64) }),
        querystring: z.object({ owner: z.string().min(1).max(64), exp: z.coerce.number().int(), sig: z.string().min(1).max(64) }),
      },
    },
    async (request, reply) => {
      const image = await services.gateway.readSignedImage({ fileId: request.params.fileId, ...request.query })
      return reply
        .type(image.mime)
        .header('content-disposition', 'inline; filename="image.png"')
        .header('cache-control', 'private, max-age=3600')
        .send(image.bytes)
    },
  )
}
