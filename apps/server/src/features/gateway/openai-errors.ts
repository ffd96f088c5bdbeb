import type { ErrorCode } from '@qiao/shared'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod'
import { AppError } from '../../errors'

/**
 * Errors under /v1 in OpenAI's shape and with OpenAI's statuses, so the official SDKs raise the
 * error class their users expect: `{ error: { message, type, code, param } }`.
 *
 * Choices worth knowing (also in README.md):
 * - An exhausted balance or a key's spent monthly limit is 429 `insufficient_quota` (what OpenAI
 *   itself sends), with `x-should-retry: false` so the SDKs do not retry it like a rate limit.
 * - A model the key may not use is 403 `model_not_allowed`; an unknown or disabled model is 404
 *   `model_not_found`.
 * - Upstream failures keep our stable codes in lower case (`upstream_timeout`), with 5xx statuses.
 */

export interface OpenAiErrorBody {
  error: { message: string; type: string; code: string | null; param: string | null }
}

interface Mapping {
  status: number
  type: string
  code: string | null
}

const MAP: Record<ErrorCode, Mapping> = {
  VALIDATION_FAILED: { status: 400, type: 'invalid_request_error', code: 'invalid_value' },
  PASSWORD_TOO_SHORT: { status: 400, type: 'invalid_request_error', code: null },
  PASSWORD_TOO_LONG: { status: 400, type: 'invalid_request_error', code: null },
  PASSWORD_BREACHED: { status: 400, type: 'invalid_request_error', code: null },
  URL_NOT_ALLOWED: { status: 400, type: 'invalid_request_error', code: 'url_not_allowed' },
  UNAUTHENTICATED: { status: 401, type: 'invalid_request_error', code: 'invalid_api_key' },
  AUTH_INVALID_CREDENTIALS: { status: 401, type: 'invalid_request_error', code: 'invalid_api_key' },
  AUTH_TOKEN_REUSED: { status: 401, type: 'invalid_request_error', code: 'invalid_api_key' },
  AUTH_TOKEN_INVALID: { status: 401, type: 'invalid_request_error', code: 'invalid_api_key' },
  ACCOUNT_DISABLED: { status: 401, type: 'invalid_request_error', code: 'invalid_api_key' },
  INSUFFICIENT_BALANCE: { status: 429, type: 'insufficient_quota', code: 'insufficient_quota' },
  FORBIDDEN: { status: 403, type: 'invalid_request_error', code: 'model_not_allowed' },
  REGISTRATION_CLOSED: { status: 403, type: 'invalid_request_error', code: null },
  NOT_FOUND: { status: 404, type: 'invalid_request_error', code: 'not_found' },
  MODEL_NOT_FOUND: { status: 404, type: 'invalid_request_error', code: 'model_not_found' },
  MODEL_DISABLED: { status: 404, type: 'invalid_request_error', code: 'model_not_found' },
  CONFLICT: { status: 409, type: 'invalid_request_error', code: 'conflict' },
  EMAIL_TAKEN: { status: 409, type: 'invalid_request_error', code: null },
  USERNAME_TAKEN: { status: 409, type: 'invalid_request_error', code: null },
  PAYLOAD_TOO_LARGE: { status: 413, type: 'invalid_request_error', code: 'request_too_large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, type: 'invalid_request_error', code: 'unsupported_media_type' },
  UPSTREAM_BAD_REQUEST: { status: 400, type: 'invalid_request_error', code: 'upstream_bad_request' },
  UPSTREAM_CONTENT_FILTERED: { status: 400, type: 'invalid_request_error', code: 'content_policy_violation' },
  RATE_LIMITED: { status: 429, type: 'requests', code: 'rate_limit_exceeded' },
  TOO_MANY_ATTEMPTS: { status: 429, type: 'requests', code: 'rate_limit_exceeded' },
  UPSTREAM_RATE_LIMITED: { status: 429, type: 'requests', code: 'upstream_rate_limited' },
  INTERNAL: { status: 500, type: 'api_error', code: 'internal_error' },
  UPSTREAM_AUTH_FAILED: { status: 502, type: 'api_error', code: 'upstream_auth_failed' },
  UPSTREAM_UNAVAILABLE: { status: 503, type: 'api_error', code: 'upstream_unavailable' },
  SERVICE_UNAVAILABLE: { status: 503, type: 'api_error', code: 'service_unavailable' },
  SERVER_SHUTDOWN: { status: 503, type: 'api_error', code: 'service_unavailable' },
  INTERRUPTED_BY_RESTART: { status: 503, type: 'api_error', code: 'service_unavailable' },
  UPSTREAM_TIMEOUT: { status: 504, type: 'api_error', code: 'upstream_timeout' },
}

/** `/messages/0/content` → `messages.0.content` (OpenAI names the offending parameter that way). */
function paramOf(err: AppError): string | null {
  const path = err.details?.[0]?.path
  if (!path || path === '/') return null
  return path.replace(/^\/(body\/)?/, '').replaceAll('/', '.')
}

/** The status and body an error becomes under /v1. */
export function toOpenAiError(err: AppError): { status: number; body: OpenAiErrorBody; headers: Record<string, string> } {
  const m = MAP[err.code]
  const headers: Record<string, string> = { ...err.headers }
  if (err.retryAfter !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(err.retryAfter)))
  // Quota is not a rate limit: waiting will not help, so the SDKs must not retry.
  if (m.type === 'insufficient_quota') headers['x-should-retry'] = 'false'
  const detail = err.details?.[0]
  const message = err.code === 'VALIDATION_FAILED' && detail && detail.path !== '/' ? `${err.message}: ${detail.path} ${detail.message}` : err.message
  return { status: m.status, headers, body: { error: { message, type: m.type, code: m.code, param: paramOf(err) } } }
}

/** Any thrown thing as an AppError, the way the /api error handler classifies it. */
function classify(error: FastifyError | AppError | Error, request: FastifyRequest): AppError {
  if (error instanceof AppError) {
    if (error.status >= 500) request.log.error({ err: error }, 'request failed')
    return error
  }
  if (hasZodFastifySchemaValidationErrors(error)) {
    const details = error.validation.map((v) => ({ path: v.instancePath || '/', message: v.message ?? 'invalid' }))
    return new AppError('VALIDATION_FAILED', 'The request is not valid', { details })
  }
  const fe = error as FastifyError
  if (fe.validation) {
    return new AppError('VALIDATION_FAILED', 'The request is not valid', {
      details: fe.validation.map((v) => ({ path: v.instancePath || '/', message: v.message ?? 'invalid' })),
    })
  }
  const status = fe.statusCode ?? 500
  if (status === 413) return new AppError('PAYLOAD_TOO_LARGE', 'The request body is too large')
  if (status === 415) return new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json')
  if (status >= 400 && status < 500) return new AppError('VALIDATION_FAILED', 'We could not parse the JSON body of your request')
  request.log.error({ err: error }, 'unhandled error')
  return new AppError('INTERNAL', 'Something went wrong on our side')
}

export function sendOpenAiError(reply: FastifyReply, err: AppError): FastifyReply {
  const { status, body, headers } = toOpenAiError(err)
  return reply.status(status).headers(headers).send(body)
}

/** Installs the /v1 error and not-found handlers on the gateway's (encapsulated) plugin. */
export function installOpenAiErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | AppError | Error, request, reply) => sendOpenAiError(reply, classify(error, request)))
  app.setNotFoundHandler((request, reply) =>
    sendOpenAiError(reply, new AppError('NOT_FOUND', `Unknown request URL: ${request.method} ${request.url.split('?')[0] ?? ''}`)),
  )
}
