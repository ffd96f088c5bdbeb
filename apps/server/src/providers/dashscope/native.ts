/**
 * DashScope native text generation (`/api/v1/services/aigc/text-generation/generation`), used when
 * a channel sets `{ "nativeChat": true }`. Its stream differs from the compatible mode: 4-line
 * events (`id:`, `event:result`, `:HTTP_STATUS/200`, `data:`), `finish_reason` as the string
 * `"null"` until the end, cumulative usage on every event, no `[DONE]`, `event:error` mid-stream,
 * and, with `incremental_output:false`, the whole text so far in every event.
 */
import { newId } from '../../ids'
import { joinUrl, requestJson, requestSse, type ErrorMapper } from '../http'
import { isObject, malformed, normalizeFinishReason, str, textOf } from '../openai-compatible/normalize'
import type { SseEvent } from '../sse'
import { ProviderError, type ChatEvent, type ChatMessage, type ChatRequest, type FinishReason, type Usage, type UpstreamContext } from '../types'

export const NATIVE_GENERATION_PATH = '/api/v1/services/aigc/text-generation/generation'

type Json = Record<string, unknown>

function count(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.round(v) : undefined
}

/** Native usage: `input_tokens`/`output_tokens`, cached and reasoning details when present. */
export function parseNativeUsage(v: unknown): Usage | undefined {
  if (!isObject(v)) return undefined
  const inputTokens = count(v.input_tokens)
  const outputTokens = count(v.output_tokens)
  if (inputTokens === undefined || outputTokens === undefined) return undefined
  const usage: Usage = { inputTokens, outputTokens }
  const cached = count(isObject(v.prompt_tokens_details) ? v.prompt_tokens_details.cached_tokens : undefined) ?? count(isObject(v.input_tokens_details) ? v.input_tokens_details.cached_tokens : undefined)
  if (cached !== undefined) usage.cachedTokens = cached
  const reasoning = count(isObject(v.output_tokens_details) ? v.output_tokens_details.reasoning_tokens : undefined)
  if (reasoning !== undefined) usage.reasoningTokens = reasoning
  return usage
}

function toNativeMessage(m: ChatMessage): Json {
  // Only called for text-only conversations (images go through the compatible mode).
  const out: Json = { role: m.role, content: typeof m.content === 'string' ? m.content : (textOf(m.content) ?? '') }
  if (m.toolCalls && m.toolCalls.length > 0) {
    out.tool_calls = m.toolCalls.map((t) => ({ id: t.id, type: 'function', function: { name: t.function.name, arguments: t.function.arguments } }))
  }
  if (m.toolCallId !== undefined) out.tool_call_id = m.toolCallId
  if (m.name !== undefined) out.name = m.name
  return out
}

export function buildNativeBody(req: ChatRequest, ctx: UpstreamContext, stream: boolean, incremental: boolean): Json {
  const parameters: Json = { result_format: 'message' }
  if (stream) parameters.incremental_output = incremental
  if (req.temperature !== undefined) parameters.temperature = req.temperature
  if (req.topP !== undefined) parameters.top_p = req.topP
  if (req.maxTokens !== undefined) parameters.max_tokens = req.maxTokens
  if (req.stop !== undefined) parameters.stop = req.stop
  if (req.seed !== undefined) parameters.seed = req.seed
  if (req.tools !== undefined) parameters.tools = req.tools
  if (req.toolChoice !== undefined) parameters.tool_choice = req.toolChoice
  if (req.responseFormat !== undefined) parameters.response_format = req.responseFormat
  Object.assign(parameters, thinkingFields(req, ctx))
  return { model: req.model, input: { messages: req.messages.map(toNativeMessage) }, parameters }
}

/** `enable_thinking` (+ the channel's optional `thinkingBudget`), shared by both DashScope modes. */
export function thinkingFields(req: ChatRequest, ctx: UpstreamContext): Json {
  if (req.thinking === undefined) return {}
  const out: Json = { enable_thinking: req.thinking }
  const budget = ctx.options?.thinkingBudget
  if (req.thinking && typeof budget === 'number' && Number.isInteger(budget) && budget > 0) out.thinking_budget = budget
  return out
}

interface NativeOptions {
  model: string
  /** Whether we asked for deltas; otherwise each event repeats the text so far. */
  incremental: boolean
  mapError: ErrorMapper
}

/** The part of `next` not already in `previous` (non-incremental mode); the whole of it if they diverge. */
function suffix(previous: string, next: string): string {
  return next.startsWith(previous) ? next.slice(previous.length) : next
}

export async function* normalizeNativeStream(events: AsyncIterable<SseEvent>, opts: NativeOptions): AsyncGenerator<ChatEvent, void, undefined> {
  let started = false
  let finish: FinishReason | undefined
  let usage: Usage | undefined
  let text = ''
  let reasoningText = ''
  for await (const ev of events) {
    if (ev.event === 'error') throw opts.mapError({ status: 200, body: ev.data })
    // Only result events carry output; other names are not ours to interpret (SECURITY E3).
    if (ev.event !== undefined && ev.event !== 'result') continue
    let chunk: unknown
    try {
      chunk = JSON.parse(ev.data)
    } catch {
      throw malformed()
    }
    if (!isObject(chunk)) throw malformed()
    if (!isObject(chunk.output)) {
      if (str(chunk.code)) throw opts.mapError({ status: 200, body: ev.data })
      throw malformed()
    }
    const requestId = str(chunk.request_id)
    if (!started) {
      started = true
      const start: ChatEvent = { type: 'start', id: requestId ?? newId(), model: opts.model }
      if (requestId) start.upstreamRequestId = requestId
      yield start
    }
    usage = parseNativeUsage(chunk.usage) ?? usage
    const { message, finishReason } = nativeOutput(chunk.output)
    const reasoning = str(message.reasoning_content)
    if (reasoning) {
      const delta = opts.incremental ? reasoning : suffix(reasoningText, reasoning)
      reasoningText = opts.incremental ? reasoningText + reasoning : reasoning
      if (delta) yield { type: 'reasoning', delta }
    }
    const content = textOf(message.content)
    if (content) {
      const delta = opts.incremental ? content : suffix(text, content)
      text = opts.incremental ? text + content : content
      if (delta) yield { type: 'text', delta }
    }
    yield* toolCalls(message)
    finish = finishReason ?? finish
  }
  if (!started) throw new ProviderError('upstream_unavailable', 'Upstream stream ended before any data')
  // No `[DONE]` in this protocol: only a final finish reason tells a whole answer from a cut one.
  if (finish === undefined) throw new ProviderError('upstream_unavailable', 'Upstream stream ended before completion')
  if (usage) yield { type: 'usage', ...usage }
  yield { type: 'done', finishReason: finish }
}

/** Tool calls of a native message, in the same delta form as the compatible mode. */
function toolCalls(message: Json): ChatEvent[] {
  if (!Array.isArray(message.tool_calls)) return []
  const out: ChatEvent[] = []
  ;(message.tool_calls as unknown[]).forEach((raw, position) => {
    if (!isObject(raw)) return
    const fn = isObject(raw.function) ? raw.function : {}
    const ev: ChatEvent = { type: 'tool_call', index: count(raw.index) ?? position, argumentsDelta: str(fn.arguments) ?? '' }
    const id = str(raw.id)
    const name = str(fn.name)
    if (id) ev.id = id
    if (name) ev.name = name
    out.push(ev)
  })
  return out
}

/** `output.choices[0]` in message format, or the legacy `output.text`. */
function nativeOutput(output: Json): { message: Json; finishReason: FinishReason | undefined } {
  const choices = Array.isArray(output.choices) ? (output.choices as unknown[]).filter(isObject) : []
  const choice = choices[0]
  if (choice) return { message: isObject(choice.message) ? choice.message : {}, finishReason: normalizeFinishReason(choice.finish_reason) }
  return { message: { content: str(output.text) ?? '' }, finishReason: normalizeFinishReason(output.finish_reason) }
}

export function nativeResponseEvents(body: unknown, opts: { model: string; mapError: ErrorMapper }): ChatEvent[] {
  if (!isObject(body) || !isObject(body.output)) {
    if (isObject(body) && str(body.code)) throw opts.mapError({ status: 200, body: JSON.stringify(body) })
    throw new ProviderError('upstream_unavailable', 'Upstream sent an unexpected response')
  }
  const requestId = str(body.request_id)
  const out: ChatEvent[] = []
  const start: ChatEvent = { type: 'start', id: requestId ?? newId(), model: opts.model }
  if (requestId) start.upstreamRequestId = requestId
  out.push(start)
  const { message, finishReason } = nativeOutput(body.output)
  const reasoning = str(message.reasoning_content)
  if (reasoning) out.push({ type: 'reasoning', delta: reasoning })
  const content = textOf(message.content)
  if (content) out.push({ type: 'text', delta: content })
  out.push(...toolCalls(message))
  const usage = parseNativeUsage(body.usage)
  if (usage) out.push({ type: 'usage', ...usage })
  out.push({ type: 'done', finishReason: finishReason ?? 'stop' })
  return out
}

/** Native chat over HTTP: streaming with `X-DashScope-SSE: enable`, or one JSON answer. */
export async function* nativeChat(req: ChatRequest, ctx: UpstreamContext, opts: { host: string; stream: boolean; mapError: ErrorMapper }): AsyncGenerator<ChatEvent, void, undefined> {
  const incremental = ctx.options?.incrementalOutput !== false
  const url = joinUrl(opts.host, NATIVE_GENERATION_PATH)
  const body = buildNativeBody(req, ctx, opts.stream, incremental)
  if (opts.stream) {
    const events = requestSse({ method: 'POST', url, body, headers: { 'x-dashscope-sse': 'enable' }, mapError: opts.mapError }, ctx)
    yield* normalizeNativeStream(events, { model: req.model, incremental, mapError: opts.mapError })
  } else {
    const { json } = await requestJson({ method: 'POST', url, body, mapError: opts.mapError }, ctx)
    yield* nativeResponseEvents(json, { model: req.model, mapError: opts.mapError })
  }
}
