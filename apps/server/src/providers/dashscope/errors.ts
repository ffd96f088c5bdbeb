/**
 * DashScope error codes (native `{code,message,request_id}` and compatible-mode
 * `{error:{message,type,code,param}}`) → our error kinds. Codes win over statuses: DashScope sends
 * moderation failures and overdue accounts as 400, and quota exhaustion as 429.
 */
import { createErrorMapper, type ErrorClassifier } from '../openai-compatible/errors'
import type { ProviderErrorKind } from '../types'

function classifyCode(code: string, message: string, status: number): ProviderErrorKind | undefined {
  const c = code.toLowerCase()
  if (c.startsWith('datainspection') || c === 'data_inspection_failed') return 'content_filtered'
  if (c === 'arrearage') return 'quota_exceeded'
  // "Free allocated quota exceeded" is the free tier running out: waiting does not help.
  if (c === 'allocationquota.freetieronly' || ((c === 'throttling.allocationquota' || c === 'insufficient_quota') && /free allocated quota/i.test(message))) {
    return 'quota_exceeded'
  }
  if (c.startsWith('throttling') || c === 'limit_requests' || c === 'limit_burst_rate' || c === 'insufficient_quota') return 'rate_limited'
  if (c === 'invalidapikey' || c === 'invalid_api_key') return 'auth_failed'
  if (c.startsWith('accessdenied') || c === 'access_denied' || c === 'model.accessdenied') return 'auth_failed'
  if (c === 'modelnotfound' || c === 'model_not_found' || c === 'model_not_supported') return 'not_found'
  if (c === 'requesttimeout' || c === 'internalerror.timeout') return 'timeout'
  if (c === 'modelservingerror' || c === 'modelunavailable' || c.startsWith('internalerror') || c === 'internal_error' || c === 'systemerror' || c === 'modelservicefailed') {
    return 'upstream_unavailable'
  }
  if (c.startsWith('invalidparameter') || c.startsWith('badrequest') || c === 'invalidurl' || c === 'invalid_request_error' || c === 'invalid_value') {
    // A throttle reported with a generic type still deserves backoff; let the status decide then.
    return status === 429 ? undefined : 'bad_request'
  }
  return undefined
}

export const classifyDashScopeError: ErrorClassifier = (err, status) => {
  const message = err.message ?? ''
  // The specific `code` is more telling than the envelope `type` (`invalid_request_error` + `invalid_api_key`).
  for (const code of [err.code, err.type]) {
    if (!code) continue
    const kind = classifyCode(code, message, status)
    if (kind) return kind
  }
  return undefined
}

export const mapDashScopeError = createErrorMapper(classifyDashScopeError)
