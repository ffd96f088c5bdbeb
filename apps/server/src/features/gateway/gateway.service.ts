import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { outputTokenLimit } from '@qiao/shared'
import type { Insertable } from 'kysely'
import type { AppDeps } from '../../context'
import type { ApiCallsTable } from '../../db/schema'
import { AppError } from '../../errors'
import { newId } from '../../ids'
import { rateLimited, type RateDecision } from '../../platform/rate-limit'
import { toAppError, type CallMeta, type ProviderRegistry, type ResolvedModel } from '../../providers/registry'
import { ProviderError, type ChatEvent, type ChatMessage, type ContentPart, type FinishReason, type ImageTaskResult, type ToolCall } from '../../providers/types'
import type { ApiKeyCaller, ApiKeysService } from '../apikeys/apikeys.service'
import { estimateTurnCost } from '../billing/chat-hooks'
import type { BillingService } from '../billing/billing.service'
import type { CreditLeases, LeaseTicket } from '../billing/leases'
import type { ChatService } from '../chat/chat.service'
import { meterUsage, newRelayState, relayChat, type MeteredUsage } from '../chat/metering'
import { estimatePromptTokens, estimateTokens, turnCost, type EstimatedMessage } from '../chat/tokens'
import type { FilesService } from '../files/files.service'
import type { RateLimitService } from '../usage/rate-limits.service'
import type { ChatCompletionBody, EmbeddingList, EmbeddingsBody, ImagesBody, ImagesResponse, OpenAiChatMessage } from './gateway.schemas'

/**
 * The OpenAI-compatible gateway: the web chat's pipeline for calls made with a personal API key.
 * Per request: the key's model allow-list → per-key/user/model rate limits → the key's monthly
 * limit → a hold on the user's credit lease (money already reserved in SQL for this process, so two
 * keys of one user cannot overspend together, H1; billing/leases.ts) → the provider registry
 * (failover, breaker) → the `api_calls` row (`source: "api"`, the key's id) and its charge, written
 * together in the lease's next batch. Image calls, slow and dear, still hold and settle per call on
 * the ledger (`billing.reserve`, `chat.recordApiCall` + `billing.settle`). Nothing here talks to an
 * upstream except through the registry, and nothing in a request can choose the upstream (F2).
 *
 * The hot path does no per-request work that can be cached: the key (apikeys cache), the model
 * and its channels (registry snapshot), the limits (settings cache) and the money (the lease) are
 * all in memory; chat and embedding calls make no database round trip of their own (ADR 0004).
 */

export interface GatewayOptions {
  /** Longest wait for an image task before answering 504 (the task is not billed then). */
  imageTimeoutMs: number
  imagePollFirstMs: number
  imagePollMaxMs: number
  /** How long an image URL we hand out stays valid. */
  imageUrlTtlS: number
  maxImageBytes: number
}

export const DEFAULT_GATEWAY_OPTIONS: GatewayOptions = {
  imageTimeoutMs: 120_000,
  imagePollFirstMs: 500,
  imagePollMaxMs: 3_000,
  imageUrlTtlS: 3_600,
  maxImageBytes: 10 * 1024 * 1024,
}

/** What reaches an OpenAI client from the upstream: content, reasoning and tool calls only (E3). */
export type RelayEvent = Extract<ChatEvent, { type: 'text' | 'reasoning' | 'tool_call' }>

export interface ChatOutcome {
  status: 'ok' | 'error' | 'interrupted'
  /** Set when status is `error`. */
  error?: AppError
  text: string
  reasoning: string
  toolCalls: ToolCall[]
  finishReason: FinishReason
  usage: MeteredUsage
}

export interface ChatCall {
  /** Our id for the completion (`chatcmpl-…`); the upstream's is never shown. */
  id: string
  created: number
  model: string
  /** The decisive rate-limit bucket, for `x-ratelimit-*`. */
  rate: RateDecision
  /** Runs the call once: relays events, then records and settles it, whatever happened. */
  run(opts: { signal: AbortSignal; onEvent: (ev: RelayEvent) => Promise<unknown> }): Promise<ChatOutcome>
}

type Kind = ResolvedModel['kind']

/** The parts of other features the gateway uses (each through its service). */
export interface GatewayPorts {
  providers: ProviderRegistry
  billing: Pick<BillingService, 'reserve' | 'settle' | 'release'>
  leases: Pick<CreditLeases, 'admit' | 'settle' | 'cancel'>
  apiKeys: Pick<ApiKeysService, 'assertWithinMonthlyLimit' | 'noteSpend'>
  rateLimits: Pick<RateLimitService, 'checkKeyRequest' | 'chargeTokens' | 'acquireStream'>
  chat: Pick<ChatService, 'recordApiCall'>
  files: Pick<FilesService, 'upload' | 'readFile'>
}

const invalid = (param: string, message: string) => new AppError('VALIDATION_FAILED', message, { details: [{ path: `/${param.replaceAll('.', '/')}`, message }] })

function textOf(content: OpenAiChatMessage['content']): string {
  if (typeof content === 'string') return content
  return (content ?? []).map((p) => (p.type === 'text' ? p.text : '')).join('')
}

/** OpenAI messages → the adapters' normalised messages, plus what estimating the prompt needs. */
export function toChatMessages(messages: OpenAiChatMessage[], vision: boolean): { messages: ChatMessage[]; estimate: EstimatedMessage[] } {
  const out: ChatMessage[] = []
  const estimate: EstimatedMessage[] = []
  messages.forEach((m, i) => {
    let content: ChatMessage['content']
    let images = 0
    if (Array.isArray(m.content)) {
      const parts: ContentPart[] = m.content.map((p) => (p.type === 'text' ? { type: 'text', text: p.text } : { type: 'image_url', url: p.image_url.url }))
      images = parts.filter((p) => p.type === 'image_url').length
      if (images && !vision) throw invalid(`messages.${i}.content`, 'this model does not accept images')
      content = images ? parts : textOf(m.content)
    } else {
      content = m.content ?? ''
    }
    const msg: ChatMessage = { role: m.role === 'developer' ? 'system' : m.role, content }
    if (m.name) msg.name = m.name
    if (m.reasoning_content) msg.reasoningContent = m.reasoning_content
    if (m.tool_call_id) msg.toolCallId = m.tool_call_id
    if (m.tool_calls?.length) {
      msg.toolCalls = m.tool_calls.map((t) => ({ id: t.id, type: 'function', function: { name: t.function.name, arguments: t.function.arguments } }))
    }
    out.push(msg)
    const toolText = m.tool_calls?.map((t) => t.function.name + t.function.arguments).join('') ?? ''
    estimate.push({ text: textOf(m.content) + toolText + (m.reasoning_content ?? ''), images })
  })
  return { messages: out, estimate }
}

/** Tool-call deltas (index, then id/name once, arguments in pieces) assembled into whole calls. */
function assembleToolCalls(events: Array<Extract<ChatEvent, { type: 'tool_call' }>>): ToolCall[] {
  const byIndex = new Map<number, ToolCall>()
  for (const ev of events) {
    let call = byIndex.get(ev.index)
    if (!call) byIndex.set(ev.index, (call = { id: ev.id ?? `call_${newId().slice(-24)}`, type: 'function', function: { name: '', arguments: '' } }))
    if (ev.id) call.id = ev.id
    if (ev.name) call.function.name += ev.name
    call.function.arguments += ev.argumentsDelta
  }
  return [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => c)
}

const unixNow = () => Math.floor(Date.now() / 1000)

export function createGatewayService(deps: AppDeps, s: GatewayPorts, overrides: Partial<GatewayOptions> = {}) {
  const options: GatewayOptions = { ...DEFAULT_GATEWAY_OPTIONS, ...overrides }
  const { logger } = deps
  const now = () => (deps.now ? deps.now() : new Date())
  // Image URLs are signed with a key derived from the master key: no new secret to manage.
  const urlKey = Buffer.from(hkdfSync('sha256', deps.masterKeys.current.key, Buffer.alloc(0), 'qiao:v1-image-url', 32))

  /** The model a request names, if the key may use it for this kind of call. */
  async function resolve(caller: ApiKeyCaller, modelId: string, kinds: Kind[], param = 'model'): Promise<ResolvedModel> {
    let model: ResolvedModel
    try {
      model = await s.providers.getModel(modelId)
    } catch {
      throw new AppError('MODEL_NOT_FOUND', `The model \`${modelId}\` does not exist or you do not have access to it.`)
    }
    if (!model.enabled) throw new AppError('MODEL_NOT_FOUND', `The model \`${modelId}\` does not exist or you do not have access to it.`)
    if (caller.allowedModels && !caller.allowedModels.has(model.id)) {
      throw new AppError('FORBIDDEN', `This API key is not allowed to use the model \`${modelId}\`.`)
    }
    if (!kinds.includes(model.kind)) throw invalid(param, `\`${modelId}\` is a ${model.kind} model and cannot be used here`)
    return model
  }

  /** Rate limits, then the key's monthly limit: both before any money is held. */
  async function admit(caller: ApiKeyCaller, model: ResolvedModel): Promise<RateDecision> {
    const rate = await s.rateLimits.checkKeyRequest({ apiKeyId: caller.apiKeyId, userId: caller.userId, model: model.id })
    if (!rate.allowed) throw rateLimited(rate, 'Rate limit reached for this API key; slow down and try again shortly.')
    await s.apiKeys.assertWithinMonthlyLimit(caller)
    return rate
  }

  function callRow(
    caller: ApiKeyCaller,
    r: {
      id: string
      requestId: string
      model: ResolvedModel
      meta: CallMeta | undefined
      endpoint: string
      status: 'ok' | 'error' | 'interrupted'
      error: AppError | undefined
      usage: MeteredUsage
      images: number
      startedAt: number
      ttftMs: number | null
      upstreamRequestId: string | undefined
    },
  ): Insertable<ApiCallsTable> {
    return {
      id: r.id,
      requestId: r.requestId,
      userId: caller.userId,
      apiKeyId: caller.apiKeyId,
      source: 'api',
      provider: r.meta?.provider ?? r.model.provider,
      channelId: r.meta?.channelId ?? null,
      model: r.model.id,
      endpoint: r.endpoint,
      status: r.status,
      // 499: the client closed the request (nginx's convention), as in the web chat.
      httpStatus: r.status === 'interrupted' ? 499 : r.error ? httpStatusOf(r.error) : 200,
      errorCode: r.error?.code ?? null,
      promptTokens: r.usage.promptTokens,
      completionTokens: r.usage.completionTokens,
      cachedTokens: r.usage.cachedTokens,
      reasoningTokens: r.usage.reasoningTokens,
      images: r.images,
      usageEstimated: r.usage.usageEstimated ? 1 : 0,
      cost: r.usage.cost,
      latencyMs: Date.now() - r.startedAt,
      ttftMs: r.ttftMs,
      upstreamRequestId: r.upstreamRequestId?.slice(0, 128) ?? null,
      createdAt: now().toISOString(),
    }
  }

  /**
   * The usage row and the settlement of a per-call hold (images), together. If the database
   * refuses (it is down), the hold stays until the billing sweeper returns it: the caller is never
   * charged without a row.
   */
  async function record(caller: ApiKeyCaller, row: Insertable<ApiCallsTable>): Promise<void> {
    try {
      await s.chat.recordApiCall(row, async (trx) => {
        await s.billing.settle(trx, { userId: caller.userId, requestId: row.requestId, cost: Number(row.cost ?? 0) })
      })
      s.apiKeys.noteSpend(caller.apiKeyId, Number(row.cost ?? 0))
    } catch (err) {
      logger.error({ err, requestId: row.requestId }, 'gateway call could not be recorded; its hold is released by the sweeper')
    }
    chargeTokens(caller, row)
  }

  /** A call admitted on the lease: its row and charge are written in the lease's next batch. */
  function settle(caller: ApiKeyCaller, ticket: LeaseTicket, row: Insertable<ApiCallsTable>): void {
    s.leases.settle(ticket, row)
    s.apiKeys.noteSpend(caller.apiKeyId, Number(row.cost ?? 0))
    chargeTokens(caller, row)
  }

  function chargeTokens(caller: ApiKeyCaller, row: Insertable<ApiCallsTable>): void {
    const tokens = Number(row.promptTokens ?? 0) + Number(row.completionTokens ?? 0)
    // Advisory bookkeeping: not worth delaying the answer for.
    s.rateLimits
      .chargeTokens({ userId: caller.userId, apiKeyId: caller.apiKeyId, tokens })
      .catch((err: unknown) => logger.warn({ err }, 'token budget not charged'))
  }

  function httpStatusOf(error: AppError): number {
    const cause = error.cause
    return cause instanceof ProviderError && cause.info.status ? cause.info.status : error.status
  }

  return {
    options,

    /** Models this key may call: enabled, served by a channel, and on the key's allow-list. */
    async listModels(caller: ApiKeyCaller): Promise<Array<{ id: string; provider: string }>> {
      const models = await s.providers.listModels()
      return models.filter((m) => !caller.allowedModels || caller.allowedModels.has(m.id))
    },

    /**
     * Admits a chat completion and holds its worst case: the prompt estimate plus the most output
     * it may produce (the request's max_tokens, capped by the model). Throws before any money is
     * held or upstream call made. `run` must follow.
     */
    async startChat(caller: ApiKeyCaller, body: ChatCompletionBody): Promise<ChatCall> {
      const model = await resolve(caller, body.model, ['chat', 'vision'])
      const vision = model.kind === 'vision' || model.capabilities.includes('vision')
      const { messages, estimate } = toChatMessages(body.messages, vision)
      const rate = await admit(caller, model)
      const limit = outputTokenLimit(model)
      const asked = body.max_completion_tokens ?? body.max_tokens ?? undefined
      const maxTokens = asked !== undefined ? Math.min(asked, limit) : limit
      const promptEstimate = estimatePromptTokens(estimate) + (body.tools ? estimateTokens(JSON.stringify(body.tools)) : 0)
      const id = newId()
      const requestId = `api:${id}`
      const ticket = await s.leases.admit(caller.userId, estimateTurnCost({ promptEstimate, model: { ...model, maxOutputTokens: maxTokens } }))
      const thinking = body.enable_thinking === true && model.capabilities.includes('thinking')
      let slot: Awaited<ReturnType<typeof s.rateLimits.acquireStream>>
      try {
        slot = await s.rateLimits.acquireStream(caller.userId)
      } catch (err) {
        s.leases.cancel(ticket)
        throw err
      }
      if (!slot.allowed) {
        s.leases.cancel(ticket)
        throw new AppError('RATE_LIMITED', 'Too many requests at once for this account; wait for one to finish.', { retryAfter: slot.retryAfterSeconds })
      }

      let ran = false
      return {
        id: `chatcmpl-${id}`,
        created: unixNow(),
        model: model.id,
        rate,
        async run({ signal, onEvent }) {
          if (ran) throw new Error('a gateway call runs once')
          ran = true
          const startedAt = Date.now()
          const state = newRelayState()
          try {
            const call = s.providers.chat(
              model.id,
              {
                messages,
                // Thinking models only reason when streaming; a JSON answer is cheaper otherwise.
                stream: body.stream === true || thinking,
                maxTokens,
                ...(body.temperature != null ? { temperature: body.temperature } : {}),
                ...(body.top_p != null ? { topP: body.top_p } : {}),
                ...(body.stop != null ? { stop: body.stop } : {}),
                ...(body.seed != null ? { seed: body.seed } : {}),
                ...(body.tools ? { tools: body.tools } : {}),
                ...(body.tool_choice != null ? { toolChoice: body.tool_choice } : {}),
                ...(body.response_format ? { responseFormat: body.response_format } : {}),
                ...(thinking ? { thinking: true } : {}),
              },
              { signal },
            )
            await relayChat(call, state, { signal, startedAt, logger, forward: onEvent })
          } catch (err) {
            // relayChat reports failures in `state`; anything else still ends as a recorded call.
            state.failure ??= toAppError(err)
          } finally {
            await slot.release()
          }
          const { text, reasoning, toolText, toolEvents, usage, finishReason, meta, upstreamRequestId, ttftMs, failure } = state
          const status: ChatOutcome['status'] = signal.aborted ? 'interrupted' : failure ? 'error' : 'ok'
          const metered = meterUsage({ usage, text: text + toolText, reasoning, upstreamStarted: meta !== undefined, promptEstimate, prices: model.prices })
          settle(
            caller,
            ticket,
            callRow(caller, {
              id: newId(),
              requestId,
              model,
              meta,
              endpoint: 'chat',
              status,
              error: failure,
              usage: metered,
              images: 0,
              startedAt,
              ttftMs,
              upstreamRequestId,
            }),
          )
          return {
            status,
            ...(failure ? { error: failure } : {}),
            text,
            reasoning,
            toolCalls: assembleToolCalls(toolEvents),
            finishReason,
            usage: metered,
          }
        },
      }
    },

    /** Embeddings through the registry, billed by input tokens. */
    async embeddings(caller: ApiKeyCaller, body: EmbeddingsBody, signal: AbortSignal): Promise<{ result: EmbeddingList; rate: RateDecision }> {
      const model = await resolve(caller, body.model, ['embedding'])
      const inputs = typeof body.input === 'string' ? [body.input] : body.input
      const rate = await admit(caller, model)
      const promptEstimate = inputs.reduce((sum, t) => sum + estimateTokens(t), 0)
      const id = newId()
      const requestId = `api:${id}`
      const ticket = await s.leases.admit(caller.userId, turnCost(model.prices, promptEstimate, 0))
      const startedAt = Date.now()
      const vectors: number[][] = []
      let inputTokens = 0
      let meta: CallMeta | undefined
      let failure: AppError | undefined
      try {
        // DashScope takes at most 10 texts per call; larger requests go in batches, one row in all.
        for (let i = 0; i < inputs.length; i += 10) {
          const out = await s.providers.embed(model.id, { input: inputs.slice(i, i + 10), ...(body.dimensions ? { dimensions: body.dimensions } : {}) }, { signal })
          meta = out.meta
          vectors.push(...out.result.vectors)
          inputTokens += out.result.inputTokens
        }
      } catch (err) {
        failure = signal.aborted ? undefined : toAppError(err)
      }
      const status = signal.aborted ? 'interrupted' : failure ? 'error' : 'ok'
      const tokens = status === 'ok' ? inputTokens : meta ? inputTokens : 0
      const usage: MeteredUsage = { promptTokens: tokens, completionTokens: 0, cachedTokens: 0, reasoningTokens: 0, usageEstimated: false, cost: turnCost(model.prices, tokens, 0) }
      settle(
        caller,
        ticket,
        callRow(caller, {
          id: newId(),
          requestId,
          model,
          meta,
          endpoint: 'embeddings',
          status,
          error: failure,
          usage,
          images: 0,
          startedAt,
          ttftMs: null,
          upstreamRequestId: undefined,
        }),
      )
      if (failure) throw failure
      if (signal.aborted) throw new AppError('SERVICE_UNAVAILABLE', 'The request was cancelled')
      const base64 = body.encoding_format === 'base64'
      return {
        rate,
        result: {
          object: 'list',
          data: vectors.map((v, index) => ({
            object: 'embedding' as const,
            index,
            // The SDKs ask for base64 by default: little-endian float32, as OpenAI sends it.
            embedding: base64 ? Buffer.from(new Float32Array(v).buffer).toString('base64') : v,
          })),
          model: model.id,
          usage: { prompt_tokens: inputTokens, total_tokens: inputTokens },
        },
      }
    },

    /**
     * Text-to-image: creates the upstream task (Wanx) through the registry and waits for it, polling
     * with backoff, up to `imageTimeoutMs`. Finished images are copied into our storage (upstream
     * URLs expire) as the caller's files and answered as signed Qiao URLs or inline base64. Billed
     * per image the upstream produced; a task that fails or times out is not billed.
     */
    async images(caller: ApiKeyCaller, body: ImagesBody, signal: AbortSignal): Promise<{ result: ImagesResponse; rate: RateDecision }> {
      let modelId = body.model ?? undefined
      if (!modelId) {
        const usable = (await s.providers.listModels()).filter((m) => m.kind === 'image' && (!caller.allowedModels || caller.allowedModels.has(m.id)))
        if (!usable[0]) throw new AppError('MODEL_NOT_FOUND', 'No image model is available to this API key.')
        modelId = usable[0].id
      }
      const model = await resolve(caller, modelId, ['image'])
      const rate = await admit(caller, model)
      const n = body.n ?? 1
      const perImage = model.prices.perImage ?? 0
      const id = newId()
      const requestId = `api:${id}`
      await s.billing.reserve({ userId: caller.userId, requestId, amount: n * perImage })
      const startedAt = Date.now()
      let meta: CallMeta | undefined
      let failure: AppError | undefined
      let task: ImageTaskResult | undefined
      const data: ImagesResponse['data'] = []
      try {
        const created = await s.providers.createImageTask(
          model.id,
          {
            prompt: body.prompt,
            n,
            ...(body.size ? { size: body.size.replace('x', '*') } : {}),
            ...(body.negative_prompt ? { negativePrompt: body.negative_prompt } : {}),
            ...(body.seed != null ? { seed: body.seed } : {}),
          },
          { signal },
        )
        meta = created.meta
        task = created.result
        const deadline = startedAt + options.imageTimeoutMs
        let delay = options.imagePollFirstMs
        while (task.status === 'pending' || task.status === 'running' || task.status === 'unknown') {
          if (Date.now() + delay > deadline) throw new AppError('UPSTREAM_TIMEOUT', `The image was not ready within ${Math.round(options.imageTimeoutMs / 1000)} s`)
          await sleep(delay, undefined, { signal })
          delay = Math.min(options.imagePollMaxMs, Math.round(delay * 1.5))
          task = await s.providers.getImageTask({ channelId: meta.channelId, keyId: meta.keyId }, task.taskId, { signal })
        }
        if (task.status !== 'succeeded') {
          throw new AppError('UPSTREAM_BAD_REQUEST', `The image task ${task.status}: ${task.error?.message ?? 'no images'}`.slice(0, 300))
        }
        for (const [i, image] of task.images.entries()) {
          if (!('url' in image)) continue
          const { bytes } = await s.providers.downloadResult({ channelId: meta.channelId }, image.url, { maxBytes: options.maxImageBytes, timeoutMs: 30_000, signal })
          const file = await s.files.upload({ userId: caller.userId, name: `image-${id.slice(-8)}-${i + 1}.png`, bytes })
          data.push(body.response_format === 'b64_json' ? { b64_json: bytes.toString('base64') } : { url: signImageUrl(caller.userId, file.id) })
        }
        if (data.length === 0) throw new AppError('UPSTREAM_BAD_REQUEST', 'The image task produced no images')
      } catch (err) {
        failure = signal.aborted ? undefined : toAppError(err)
      }
      const status = signal.aborted ? 'interrupted' : failure ? 'error' : 'ok'
      // Billed for what the upstream made (it bills us for those), even if copying one failed.
      const made = task?.status === 'succeeded' ? (task.imageCount ?? task.images.filter((im) => 'url' in im).length) : 0
      const usage: MeteredUsage = { promptTokens: 0, completionTokens: 0, cachedTokens: 0, reasoningTokens: 0, usageEstimated: false, cost: Math.min(n, made) * perImage }
      await record(
        caller,
        callRow(caller, {
          id: newId(),
          requestId,
          model,
          meta,
          endpoint: 'images',
          status,
          error: failure,
          usage,
          images: Math.min(n, made),
          startedAt,
          ttftMs: null,
          upstreamRequestId: task?.upstreamRequestId,
        }),
      )
      if (failure) throw failure
      if (signal.aborted) throw new AppError('SERVICE_UNAVAILABLE', 'The request was cancelled')
      return { rate, result: { created: unixNow(), data } }
    },

    /** Serves an image behind a URL from `images`; anything forged, altered or expired → 404. */
    async readSignedImage(q: { fileId: string; owner: string; exp: number; sig: string }): Promise<{ mime: string; bytes: Buffer }> {
      const notFound = new AppError('NOT_FOUND', 'This image link is not valid or has expired.')
      const expected = signature(q.fileId, q.owner, q.exp)
      const given = Buffer.from(q.sig, 'base64url')
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw notFound
      if (q.exp * 1000 < now().getTime()) throw notFound
      const file = await s.files.readFile({ userId: q.owner, id: q.fileId }).catch(() => {
        throw notFound
      })
      return { mime: file.mime, bytes: file.bytes }
    },
  }

  function signature(fileId: string, owner: string, exp: number): Buffer {
    return createHmac('sha256', urlKey).update(`${fileId}:${owner}:${exp}`).digest()
  }

  /** A URL on Qiao that opens without a key (browsers, curl) for `imageUrlTtlS`: the signature is the credential. */
  function signImageUrl(owner: string, fileId: string): string {
    const exp = Math.floor(now().getTime() / 1000) + options.imageUrlTtlS
    const sig = signature(fileId, owner, exp).toString('base64url')
    return `${deps.config.QIAO_PUBLIC_URL.replace(/\/+$/, '')}/v1/images/files/${fileId}?owner=${owner}&exp=${exp}&sig=${sig}`
  }
}

export type GatewayService = ReturnType<typeof createGatewayService>
