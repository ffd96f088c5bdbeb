/**
 * Reading upstream error bodies and turning them into ProviderErrors. Each provider supplies only
 * its code table; the parsing, the status fallback and the message hygiene live here once.
 */
import { kindFromStatus, type ErrorMapper, type UpstreamFailure } from '../http'
import { ProviderError, type ProviderErrorKind } from '../types'
import { isObject, str } from './normalize'

export interface ParsedUpstreamError {
  /** Native `code`, or the envelope's `error.code`. */
  code?: string
  /** The envelope's `error.type`. */
  type?: string
  message?: string
  requestId?: string
}

/**
 * Understands the shapes seen in the wild: the OpenAI envelope `{error:{message,type,code,param}}`
 * (optionally with a top-level `request_id`/`id`), DashScope native `{code, message|msg, request_id}`,
 * and `{error:"text"}`. Anything else yields an empty result and the status decides.
 */
export function parseUpstreamError(body: string): ParsedUpstreamError {
  let json: unknown
  try {
    json = JSON.parse(body)
  } catch {
    return {}
  }
  if (!isObject(json)) return {}
  const out: ParsedUpstreamError = {}
  const requestId = str(json.request_id) ?? str(json.id)
  if (requestId) out.requestId = requestId
  if (isObject(json.error)) {
    const e = json.error
    const code = str(e.code) ?? (typeof e.code === 'number' ? String(e.code) : undefined)
    if (code) out.code = code
    const type = str(e.type)
    if (type) out.type = type
    const message = str(e.message)
    if (message) out.message = message
  } else if (typeof json.error === 'string') {
    out.message = json.error
  } else {
    const code = str(json.code)
    if (code) out.code = code
    const message = str(json.message) ?? str(json.msg)
    if (message) out.message = message
  }
  return out
}

/** A provider's classification: undefined means "not a code I know", and the status decides. */
export type ErrorClassifier = (err: ParsedUpstreamError, status: number) => ProviderErrorKind | undefined

/** Upstream text is untrusted and can be long: one line, bounded. */
function cleanMessage(message: string): string {
  const oneLine = message.replace(/\s+/g, ' ').trim()
  return oneLine.length > 300 ? `${oneLine.slice(0, 300)}…` : oneLine
}

/** Builds an ErrorMapper from a classifier; 200 (an error inside a stream) falls back to upstream_unavailable. */
export function createErrorMapper(classify: ErrorClassifier): ErrorMapper {
  return (failure: UpstreamFailure): ProviderError => {
    const parsed = parseUpstreamError(failure.body)
    const byCode = classify(parsed, failure.status)
    let kind = byCode ?? (failure.status >= 400 ? kindFromStatus(failure.status) : 'upstream_unavailable')
    // 401/403 always mean "this key may not do this": the key must be disabled and the next one
    // tried, whatever code an imitation server puts in the body. Only quota and moderation codes
    // (which some providers send with 403) keep their own kind.
    if ((failure.status === 401 || failure.status === 403) && byCode !== 'quota_exceeded' && byCode !== 'content_filtered') {
      kind = 'auth_failed'
    }
    const detail = parsed.message ? cleanMessage(parsed.message) : undefined
    const label = parsed.code ?? parsed.type
    const message = `Upstream error${failure.status >= 400 ? ` ${failure.status}` : ''}${label ? ` ${label}` : ''}${detail ? `: ${detail}` : ''}`
    const info: ProviderError['info'] = {}
    if (failure.status >= 400) info.status = failure.status
    if (label) info.upstreamCode = label
    const requestId = parsed.requestId ?? failure.headerRequestId
    if (requestId) info.upstreamRequestId = requestId
    if (failure.retryAfterMs !== undefined) info.retryAfterMs = failure.retryAfterMs
    return new ProviderError(kind, message, info)
  }
}

/**
 * Codes common to OpenAI and the many servers imitating it. Used for the plain
 * OpenAI-compatible provider, where we cannot know the exact dialect.
 */
export const classifyOpenAIError: ErrorClassifier = (err) => {
  for (const c of [err.code, err.type]) {
    if (!c) continue
    const code = c.toLowerCase()
    if (code === 'invalid_api_key' || code === 'authentication_error' || code === 'invalid_authentication_error' || code === 'permission_denied') {
      return 'auth_failed'
    }
    if (code === 'insufficient_quota' || code === 'billing_hard_limit_reached') return 'quota_exceeded'
    if (code === 'rate_limit_exceeded' || code === 'rate_limit_error') return 'rate_limited'
    if (code === 'model_not_found') return 'not_found'
    if (code.includes('content_filter') || code.includes('content_policy') || code.includes('inspection') || code.includes('moderation')) {
      return 'content_filtered'
    }
    if (code === 'context_length_exceeded') return 'bad_request'
    if (code === 'server_error' || code === 'overloaded_error') return 'upstream_unavailable'
  }
  return undefined
}
