/**
 * OpenAI-shaped chunks and responses → our normalised ChatEvents.
 *
 * Only whitelisted fields travel onward (SECURITY E3): text and reasoning deltas, tool-call deltas,
 * the finish reason and token usage. Unknown SSE event names are skipped whole, unknown JSON fields
 * are never read, and text is passed on as text (it is the client's job to render it inertly).
 */
import { newId } from '../../ids'
import { scrubError, withInfo, type ErrorMapper } from '../http'
import type { SseEvent } from '../sse'
import { ProviderError, type ChatEvent, type FinishReason, type Usage } from '../types'

export interface NormalizeOptions {
  /** Model named in the request, used when the upstream does not echo one. */
  model: string
  /** Fields that carry reasoning text, in order of preference. */
  reasoningFields: readonly string[]
  mapError: ErrorMapper
}

type Json = Record<string, unknown>

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined
}

function count(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.round(v) : undefined
}

/** Upstream finish reasons → our four. `null`, `"null"` (DashScope native) and absent mean "not yet". */
export function normalizeFinishReason(v: unknown): FinishReason | undefined {
  if (typeof v !== 'string' || v === '' || v === 'null') return undefined
  switch (v) {
    case 'stop':
    case 'length':
    case 'tool_calls':
    case 'content_filter':
      return v
    case 'function_call':
      return 'tool_calls'
    case 'sensitive':
    case 'content_filtered':
      return 'content_filter'
    default:
      // An unknown reason still ends the answer; treat it as a normal stop.
      return 'stop'
  }
}

/** OpenAI-style usage (`prompt_tokens`…), also tolerating Kimi's top-level `cached_tokens`. */
export function parseOpenAIUsage(v: unknown): Usage | undefined {
  if (!isObject(v)) return undefined
  const inputTokens = count(v.prompt_tokens)
  const outputTokens = count(v.completion_tokens)
  if (inputTokens === undefined || outputTokens === undefined) return undefined
  const usage: Usage = { inputTokens, outputTokens }
  const cached = count(isObject(v.prompt_tokens_details) ? v.prompt_tokens_details.cached_tokens : undefined) ?? count(v.cached_tokens)
  if (cached !== undefined) usage.cachedTokens = cached
  const reasoning = count(isObject(v.completion_tokens_details) ? v.completion_tokens_details.reasoning_tokens : undefined)
  if (reasoning !== undefined) usage.reasoningTokens = reasoning
  return usage
}

function reasoningOf(o: Json, fields: readonly string[]): string | undefined {
  for (const f of fields) {
    const v = str(o[f])
    if (v) return v
  }
  return undefined
}

function toolCallEvents(v: unknown, whole: boolean): ChatEvent[] {
  if (!Array.isArray(v)) return []
  const out: ChatEvent[] = []
  v.forEach((raw: unknown, position) => {
    if (!isObject(raw)) return
    const fn = isObject(raw.function) ? raw.function : {}
    const index = count(raw.index) ?? position
    const ev: ChatEvent = { type: 'tool_call', index, argumentsDelta: str(fn.arguments) ?? '' }
    const id = str(raw.id)
    const name = str(fn.name)
    if (id) ev.id = id
    if (name) ev.name = name
    // A delta with nothing in it carries no information; a whole tool call always counts.
    if (whole || id || name || ev.argumentsDelta) out.push(ev)
  })
  return out
}

export function malformed(): ProviderError {
  return new ProviderError('upstream_unavailable', 'Upstream sent a malformed stream chunk')
}

/** The first choice (we request one), preferring `index: 0`. */
function firstChoice(chunk: Json): Json | undefined {
  const choices = Array.isArray(chunk.choices) ? (chunk.choices as unknown[]).filter(isObject) : []
  return choices.find((c) => c.index === 0 || c.index === undefined) ?? choices[0]
}

/**
 * Normalises an OpenAI-shaped chunk stream. Usage may come as a separate `choices:[]` chunk or
 * inside the last choice (Moonshot); either way it is emitted after the content and before `done`.
 * A stream that ends without a finish reason (and without `[DONE]`) was cut: upstream_unavailable.
 */
export async function* normalizeCompatStream(events: AsyncIterable<SseEvent>, opts: NormalizeOptions): AsyncGenerator<ChatEvent, void, undefined> {
  let started = false
  let finish: FinishReason | undefined
  let usage: Usage | undefined
  let sawDone = false
  for await (const ev of events) {
    if (ev.event === 'error') throw opts.mapError({ status: 200, body: ev.data })
    // Only unnamed events carry chunks; anything else (`event: execute`…) is not ours to interpret.
    if (ev.event !== undefined && ev.event !== 'message') continue
    const data = ev.data.trim()
    if (data === '[DONE]') {
      sawDone = true
      break
    }
    let chunk: unknown
    try {
      chunk = JSON.parse(data)
    } catch {
      throw malformed()
    }
    if (!isObject(chunk)) throw malformed()
    if (chunk.error !== undefined && chunk.error !== null) throw opts.mapError({ status: 200, body: data })
    if (!started) {
      started = true
      const id = str(chunk.id)
      const start: ChatEvent = { type: 'start', id: id ?? newId(), model: str(chunk.model) ?? opts.model }
      if (id) start.upstreamRequestId = id
      yield start
    }
    const choice = firstChoice(chunk)
    usage = parseOpenAIUsage(chunk.usage) ?? parseOpenAIUsage(choice?.usage) ?? usage
    if (!choice) continue
    const delta = isObject(choice.delta) ? choice.delta : {}
    const reasoning = reasoningOf(delta, opts.reasoningFields)
    if (reasoning) yield { type: 'reasoning', delta: reasoning }
    const content = str(delta.content)
    if (content) yield { type: 'text', delta: content }
    yield* toolCallEvents(delta.tool_calls, false)
    finish = normalizeFinishReason(choice.finish_reason) ?? finish
  }
  if (!started) throw new ProviderError('upstream_unavailable', 'Upstream stream ended before any data')
  if (finish === undefined) {
    if (!sawDone) throw new ProviderError('upstream_unavailable', 'Upstream stream ended before completion')
    // `[DONE]` without a finish reason: the upstream considers the answer complete.
    finish = 'stop'
  }
  if (usage) yield { type: 'usage', ...usage }
  yield { type: 'done', finishReason: finish }
}

/** A non-streaming chat.completion → the same events a stream would give, all at once. */
export function compatResponseEvents(body: unknown, opts: NormalizeOptions): ChatEvent[] {
  if (!isObject(body)) throw new ProviderError('upstream_unavailable', 'Upstream sent an unexpected response')
  if (body.error !== undefined && body.error !== null) throw opts.mapError({ status: 200, body: JSON.stringify(body) })
  const choice = firstChoice(body)
  if (!choice) throw new ProviderError('upstream_unavailable', 'Upstream response has no choices')
  const id = str(body.id)
  const out: ChatEvent[] = []
  const start: ChatEvent = { type: 'start', id: id ?? newId(), model: str(body.model) ?? opts.model }
  if (id) start.upstreamRequestId = id
  out.push(start)
  const message = isObject(choice.message) ? choice.message : {}
  const reasoning = reasoningOf(message, opts.reasoningFields)
  if (reasoning) out.push({ type: 'reasoning', delta: reasoning })
  const content = textOf(message.content)
  if (content) out.push({ type: 'text', delta: content })
  out.push(...toolCallEvents(message.tool_calls, true))
  const usage = parseOpenAIUsage(body.usage) ?? parseOpenAIUsage(choice.usage)
  if (usage) out.push({ type: 'usage', ...usage })
  out.push({ type: 'done', finishReason: normalizeFinishReason(choice.finish_reason) ?? 'stop' })
  return out
}

/** Message content as text: a string, or the text parts of an array (`[{type:'text',text}]` / `[{text}]`). */
export function textOf(v: unknown): string | undefined {
  if (typeof v === 'string') return v
  if (!Array.isArray(v)) return undefined
  return v
    .filter(isObject)
    .map((p) => str(p.text) ?? '')
    .join('')
}

/**
 * The outer wrapper of every adapter's chat: marks a failure after content as `afterFirstToken`
 * (such a request must never be retried or silently re-generated), and scrubs the key out of
 * error text that came from inside a stream or a 200 body.
 */
export async function* guardStream(events: AsyncIterable<ChatEvent>, apiKey: string): AsyncGenerator<ChatEvent, void, undefined> {
  let produced = false
  try {
    for await (const ev of events) {
      if (ev.type === 'text' || ev.type === 'reasoning' || ev.type === 'tool_call') produced = true
      yield ev
    }
  } catch (err) {
    if (!(err instanceof ProviderError)) throw err
    const clean = scrubError(err, apiKey)
    throw produced && !clean.info.afterFirstToken ? withInfo(clean, { afterFirstToken: true }) : clean
  }
}
