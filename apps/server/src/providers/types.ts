/**
 * The adapter contract. An adapter translates between our normalised requests/events and one
 * upstream wire protocol. It never touches our database or HTTP layer, and it reports every
 * failure as a ProviderError of a closed set of kinds.
 */
import type { Dispatcher } from 'undici'

export type ProviderKind = 'dashscope' | 'moonshot' | 'openai-compatible'

/** Closed taxonomy of upstream failures. Features map these to API error codes. */
export type ProviderErrorKind =
  | 'rate_limited' // 429 throttling; retryable with backoff
  | 'auth_failed' // 401/403 bad or wrong-region key; disables the key
  | 'quota_exceeded' // the provider account is out of money/quota (Arrearage, insufficient_quota): not retryable
  | 'bad_request' // 400 the request itself is wrong (context too long, bad parameter)
  | 'not_found' // unknown model
  | 'content_filtered' // moderation (DataInspectionFailed, content_filter)
  | 'upstream_unavailable' // 5xx, connection refused/reset, malformed stream, cut stream
  | 'timeout' // connect / first byte / idle / total timeout

export class ProviderError extends Error {
  override readonly name = 'ProviderError'
  constructor(
    readonly kind: ProviderErrorKind,
    message: string,
    readonly info: {
      /** HTTP status from the upstream, when there was one. */
      status?: number
      /** The upstream's own code (`Throttling.RateQuota`, `invalid_api_key`). */
      upstreamCode?: string
      upstreamRequestId?: string
      /** From `Retry-After`, in milliseconds. */
      retryAfterMs?: number
      /** True once any content (text/reasoning) was emitted: such a request is never retried. */
      afterFirstToken?: boolean
      cause?: unknown
    } = {},
  ) {
    super(message, info.cause === undefined ? undefined : { cause: info.cause })
  }
  /** Whether retrying the same request (before any token) may succeed. */
  get retryable(): boolean {
    return this.kind === 'rate_limited' || this.kind === 'upstream_unavailable' || this.kind === 'timeout'
  }
}

export interface Timeouts {
  /** TCP/TLS connect. */
  connectMs: number
  /** From sending the request to the first byte of the response body. */
  firstByteMs: number
  /** Longest gap between two data events; SSE comments/keep-alives do not reset it. */
  idleMs: number
  /** Whole request. */
  totalMs: number
}

export interface RetryPolicy {
  /** Attempts after the first one, on the same key, before the first byte only. */
  maxRetries: number
  baseDelayMs: number
  maxDelayMs: number
  /** A Retry-After (or the sum of waits) above this fails fast instead of waiting. */
  maxTotalWaitMs: number
}

export const DEFAULT_TIMEOUTS: Timeouts = { connectMs: 5_000, firstByteMs: 60_000, idleMs: 30_000, totalMs: 300_000 }
export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 2, baseDelayMs: 250, maxDelayMs: 4_000, maxTotalWaitMs: 10_000 }

/** What one upstream call needs besides the request: where, with which key, and the limits. */
export interface UpstreamContext {
  /** Channel base URL as stored (DashScope: host root; Moonshot/OpenAI-compatible: including /v1). */
  baseUrl: string
  /** Plain provider key, decrypted for this call only. Never log it. */
  apiKey: string
  signal?: AbortSignal
  /** The undici dispatcher to send through; admin-entered URLs get the SSRF-guarded one. */
  dispatcher?: Dispatcher
  timeouts?: Partial<Timeouts>
  retry?: Partial<RetryPolicy>
  /** Adapter options stored on the channel (e.g. `{ "nativeChat": true }`). */
  options?: Record<string, unknown>
}

export type ContentPart = { type: 'text'; text: string } | { type: 'image_url'; url: string }

export interface ToolCall {
  id: string
  type: 'function'
  function: { name: string; arguments: string }
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool'
  content: string | ContentPart[]
  /** Thinking models that need earlier reasoning sent back (Kimi k2.5+). */
  reasoningContent?: string
  toolCalls?: ToolCall[]
  toolCallId?: string
  name?: string
}

export interface ChatRequest {
  /** The model name the upstream knows. */
  model: string
  messages: ChatMessage[]
  /** Default true: ask the upstream to stream. false: one JSON answer, same events yielded at once. */
  stream?: boolean
  temperature?: number
  topP?: number
  maxTokens?: number
  stop?: string | string[]
  seed?: number
  /** Reasoning on (`enable_thinking` / `thinking:{type:"enabled"}`). */
  thinking?: boolean
  tools?: unknown[]
  toolChoice?: unknown
  responseFormat?: unknown
}

export interface Usage {
  inputTokens: number
  outputTokens: number
  cachedTokens?: number
  reasoningTokens?: number
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter'

/**
 * Normalised stream events. A successful stream yields `start` first and ends with exactly one
 * `done`; `usage` comes before `done` when the upstream sent it. A failure throws ProviderError.
 */
export type ChatEvent =
  | { type: 'start'; id: string; model: string; upstreamRequestId?: string }
  | { type: 'text'; delta: string }
  | { type: 'reasoning'; delta: string }
  | { type: 'tool_call'; index: number; id?: string; name?: string; argumentsDelta: string }
  | ({ type: 'usage' } & Usage)
  | { type: 'done'; finishReason: FinishReason }

export interface ImageRequest {
  model: string
  prompt: string
  negativePrompt?: string
  /** `W*H` (DashScope form), e.g. `1024*1024`. */
  size?: string
  n?: number
  seed?: number
}

export type ImageTaskStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'canceled' | 'unknown'

export interface ImageTaskResult {
  taskId: string
  status: ImageTaskStatus
  /** One entry per requested image once finished: a URL, or the reason that image failed. */
  images: Array<{ url: string } | { error: { code: string; message: string } }>
  /** Whole-task failure. */
  error?: { code: string; message: string }
  /** Images billed by the upstream. */
  imageCount?: number
  upstreamRequestId?: string
}

export interface EmbeddingRequest {
  model: string
  input: string[]
  dimensions?: number
}

export interface EmbeddingResult {
  vectors: number[][]
  inputTokens: number
}

export interface ProviderAdapter {
  readonly kind: ProviderKind
  /** Normalised events; ends with `done` unless it throws ProviderError. */
  chat(req: ChatRequest, ctx: UpstreamContext): AsyncIterable<ChatEvent>
  /** Start an async image task (DashScope Wanx). Absent when the provider has none. */
  createImageTask?(req: ImageRequest, ctx: UpstreamContext): Promise<ImageTaskResult>
  getImageTask?(taskId: string, ctx: UpstreamContext): Promise<ImageTaskResult>
  embed?(req: EmbeddingRequest, ctx: UpstreamContext): Promise<EmbeddingResult>
}
