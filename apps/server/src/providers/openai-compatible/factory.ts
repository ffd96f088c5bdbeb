/**
 * `createOpenAICompatibleAdapter(spec)`: the adapter for any OpenAI-shaped chat API. A provider
 * states only how it differs (where the API lives, extra body fields, its error codes, where its
 * reasoning text is); request building, streaming, usage and error plumbing are shared.
 */
import { joinUrl, requestJson, requestSse, scrubError, type ErrorMapper } from '../http'
import {
  ProviderError,
  type ChatEvent,
  type ChatMessage,
  type ChatRequest,
  type EmbeddingRequest,
  type EmbeddingResult,
  type ProviderAdapter,
  type ProviderKind,
  type UpstreamContext,
} from '../types'
import { compatResponseEvents, guardStream, isObject, normalizeCompatStream, type NormalizeOptions } from './normalize'

export interface OpenAICompatibleSpec {
  kind: ProviderKind
  /** The OpenAI-shaped API root from the channel's base URL. Default: the base URL as stored. */
  apiBase?: (baseUrl: string) => string
  /** Default `/chat/completions`. */
  chatPath?: string
  /** Default `/embeddings`; `null` when the provider has no embeddings API. */
  embeddingsPath?: string | null
  /** Provider-specific top-level body fields (thinking switches and the like). */
  extraBody?: (req: ChatRequest, ctx: UpstreamContext) => Record<string, unknown>
  /** Stream upstream even for `stream: false` (the provider refuses such calls non-streaming). */
  mustStream?: (req: ChatRequest) => boolean
  /** Send earlier `reasoning_content` back on assistant messages (thinking models that need it). */
  sendReasoningContent?: boolean
  /** Fields that carry reasoning text. Default `['reasoning_content']`. */
  reasoningFields?: readonly string[]
  mapError: ErrorMapper
}

/** Our message → the OpenAI wire message. */
export function toOpenAIMessage(m: ChatMessage, sendReasoningContent: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {
    role: m.role,
    content:
      typeof m.content === 'string'
        ? m.content
        : m.content.map((p) => (p.type === 'text' ? { type: 'text', text: p.text } : { type: 'image_url', image_url: { url: p.url } })),
  }
  if (m.toolCalls && m.toolCalls.length > 0) {
    out.tool_calls = m.toolCalls.map((t) => ({ id: t.id, type: 'function', function: { name: t.function.name, arguments: t.function.arguments } }))
  }
  if (m.toolCallId !== undefined) out.tool_call_id = m.toolCallId
  if (m.name !== undefined) out.name = m.name
  if (sendReasoningContent && m.role === 'assistant' && m.reasoningContent !== undefined) out.reasoning_content = m.reasoningContent
  return out
}

/** The chat body: standard fields (undefined ones are dropped by JSON), then the provider's extras. */
export function buildChatBody(spec: OpenAICompatibleSpec, req: ChatRequest, ctx: UpstreamContext, stream: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = {
    model: req.model,
    messages: req.messages.map((m) => toOpenAIMessage(m, spec.sendReasoningContent ?? false)),
    stream,
  }
  // Usage in a stream only arrives when asked for; without it billing would have to guess.
  if (stream) body.stream_options = { include_usage: true }
  if (req.temperature !== undefined) body.temperature = req.temperature
  if (req.topP !== undefined) body.top_p = req.topP
  if (req.maxTokens !== undefined) body.max_tokens = req.maxTokens
  if (req.stop !== undefined) body.stop = req.stop
  if (req.seed !== undefined) body.seed = req.seed
  if (req.tools !== undefined) body.tools = req.tools
  if (req.toolChoice !== undefined) body.tool_choice = req.toolChoice
  if (req.responseFormat !== undefined) body.response_format = req.responseFormat
  return { ...body, ...spec.extraBody?.(req, ctx) }
}

export type OpenAICompatibleAdapter = ProviderAdapter & {
  embed?: (req: EmbeddingRequest, ctx: UpstreamContext) => Promise<EmbeddingResult>
  readonly spec: OpenAICompatibleSpec
}

export function createOpenAICompatibleAdapter(spec: OpenAICompatibleSpec): OpenAICompatibleAdapter {
  const apiBase = spec.apiBase ?? ((b: string) => b)
  const reasoningFields = spec.reasoningFields ?? ['reasoning_content']

  async function* chatEvents(req: ChatRequest, ctx: UpstreamContext): AsyncGenerator<ChatEvent, void, undefined> {
    const stream = req.stream !== false || (spec.mustStream?.(req) ?? false)
    const call = {
      method: 'POST' as const,
      url: joinUrl(apiBase(ctx.baseUrl), spec.chatPath ?? '/chat/completions'),
      body: buildChatBody(spec, req, ctx, stream),
      mapError: spec.mapError,
    }
    const opts: NormalizeOptions = { model: req.model, reasoningFields, mapError: spec.mapError }
    if (stream) {
      yield* normalizeCompatStream(requestSse(call, ctx), opts)
    } else {
      const { json } = await requestJson(call, ctx)
      yield* compatResponseEvents(json, opts)
    }
  }

  const adapter: OpenAICompatibleAdapter = {
    kind: spec.kind,
    spec,
    chat: (req, ctx) => guardStream(chatEvents(req, ctx), ctx.apiKey),
  }
  const embeddingsPath = spec.embeddingsPath === undefined ? '/embeddings' : spec.embeddingsPath
  if (embeddingsPath !== null) {
    adapter.embed = async (req, ctx) => {
      const body: Record<string, unknown> = { model: req.model, input: req.input, encoding_format: 'float' }
      if (req.dimensions !== undefined) body.dimensions = req.dimensions
      try {
        const { json } = await requestJson({ method: 'POST', url: joinUrl(apiBase(ctx.baseUrl), embeddingsPath), body, mapError: spec.mapError }, ctx)
        return parseEmbeddings(json, req.input.length, spec.mapError)
      } catch (err) {
        throw err instanceof ProviderError ? scrubError(err, ctx.apiKey) : err
      }
    }
  }
  return adapter
}

/** `{data:[{index, embedding}], usage}` → vectors in input order. */
export function parseEmbeddings(json: unknown, expected: number, mapError: ErrorMapper): EmbeddingResult {
  if (!isObject(json)) throw new ProviderError('upstream_unavailable', 'Upstream sent an unexpected embeddings response')
  if (json.error !== undefined && json.error !== null) throw mapError({ status: 200, body: JSON.stringify(json) })
  const data = Array.isArray(json.data) ? (json.data as unknown[]).filter(isObject) : []
  const vectors: number[][] = new Array<number[]>(expected)
  data.forEach((d, position) => {
    const index = typeof d.index === 'number' ? d.index : position
    const embedding = d.embedding
    if (index < 0 || index >= expected || !Array.isArray(embedding) || !embedding.every((x) => typeof x === 'number')) {
      throw new ProviderError('upstream_unavailable', 'Upstream sent a malformed embedding')
    }
    vectors[index] = embedding
  })
  for (let i = 0; i < expected; i++) {
    if (!vectors[i]) throw new ProviderError('upstream_unavailable', 'Upstream returned fewer embeddings than inputs')
  }
  const usage = isObject(json.usage) ? json.usage : {}
  const tokens = typeof usage.prompt_tokens === 'number' ? usage.prompt_tokens : typeof usage.total_tokens === 'number' ? usage.total_tokens : 0
  return { vectors, inputTokens: tokens }
}
