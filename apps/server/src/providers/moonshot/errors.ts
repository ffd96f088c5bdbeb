/**
 * Moonshot (Kimi) errors are `{error:{type,message}}` with no `code`: the `type` decides. A 429 can
 * mean "slow down" (rate limit, overload) or "out of money" (exceeded_current_quota_error); only
 * the first is worth a retry.
 */
import { createErrorMapper, type ErrorClassifier } from '../openai-compatible/errors'
import type { ProviderErrorKind } from '../types'

const BY_TYPE: Record<string, ProviderErrorKind> = {
  content_filter: 'content_filtered',
  invalid_authentication_error: 'auth_failed',
  incorrect_api_key_error: 'auth_failed',
  permission_denied_error: 'auth_failed',
  exceeded_current_quota_error: 'quota_exceeded',
  rate_limit_reached_error: 'rate_limited',
  engine_overloaded_error: 'rate_limited',
  resource_not_found_error: 'not_found',
  invalid_request_error: 'bad_request',
  server_error: 'upstream_unavailable',
  unexpected_output: 'upstream_unavailable',
}

export const classifyMoonshotError: ErrorClassifier = (err) => {
  for (const key of [err.type, err.code]) {
    const kind = key ? BY_TYPE[key] : undefined
    if (kind) return kind
  }
  return undefined
}

export const mapMoonshotError = createErrorMapper(classifyMoonshotError)
