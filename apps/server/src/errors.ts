import type { ErrorBody, ErrorCode } from '@qiao/shared'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod'

/** One table maps every code to its HTTP status. */
export const STATUS: Record<ErrorCode, number> = {
  VALIDATION_FAILED: 400,
  PASSWORD_TOO_SHORT: 400,
  PASSWORD_TOO_LONG: 400,
  PASSWORD_BREACHED: 400,
  URL_NOT_ALLOWED: 400,
  UNAUTHENTICATED: 401,
  AUTH_INVALID_CREDENTIALS: 401,
  AUTH_TOKEN_REUSED: 401,
  AUTH_TOKEN_INVALID: 401,
  ACCOUNT_DISABLED: 401,
  INSUFFICIENT_BALANCE: 402,
  FORBIDDEN: 403,
  REGISTRATION_CLOSED: 403,
  NOT_FOUND: 404,
  MODEL_NOT_FOUND: 404,
  CONFLICT: 409,
  EMAIL_TAKEN: 409,
  USERNAME_TAKEN: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  MODEL_DISABLED: 422,
  UPSTREAM_BAD_REQUEST: 422,
  UPSTREAM_CONTENT_FILTERED: 422,
  RATE_LIMITED: 429,
  TOO_MANY_ATTEMPTS: 429,
  UPSTREAM_RATE_LIMITED: 429,
  INTERNAL: 500,
  UPSTREAM_AUTH_FAILED: 502,
  UPSTREAM_UNAVAILABLE: 503,
  SERVICE_UNAVAILABLE: 503,
  SERVER_SHUTDOWN: 503,
  INTERRUPTED_BY_RESTART: 503,
  UPSTREAM_TIMEOUT: 504,
}

export interface AppErrorOptions {
  details?: Array<{ path: string; message: string }>
  /** Seconds; sent as `Retry-After` (429 and 503). */
  retryAfter?: number
  /** Extra headers for this answer, e.g. `x-ratelimit-*`. */
  headers?: Record<string, string>
  cause?: unknown
}

/** The one error class services throw. Its message is shown to the user, so keep it human. */
export class AppError extends Error {
  readonly details: AppErrorOptions['details']
  readonly retryAfter: number | undefined
  readonly headers: Record<string, string> | undefined
  constructor(
    readonly code: ErrorCode,
    message: string,
    options: AppErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'AppError'
    this.details = options.details
    this.retryAfter = options.retryAfter
    this.headers = options.headers
  }
  get status(): number {
    return STATUS[this.code]
  }
}

export const notFound = (what: string) => new AppError('NOT_FOUND', `${what} not found`)
export const forbidden = () => new AppError('FORBIDDEN', 'You do not have permission to do this')
export const unauthenticated = (message = 'Sign in required') => new AppError('UNAUTHENTICATED', message)

/** Builds the documented error body. */
export function errorBody(
  code: ErrorCode,
  message: string,
  requestId: string,
  details?: Array<{ path: string; message: string }>,
): ErrorBody {
  return { error: { code, message, requestId, ...(details ? { details } : {}) } }
}

function sendError(reply: FastifyReply, request: FastifyRequest, err: AppError): FastifyReply {
  if (err.retryAfter !== undefined) void reply.header('retry-after', String(Math.max(1, Math.ceil(err.retryAfter))))
  if (err.headers) void reply.headers(err.headers)
  return reply.status(err.status).send(errorBody(err.code, err.message, request.id, err.details))
}

/**
 * Turns every thrown thing into the documented shape. AppErrors keep their message; Fastify's
 * own client errors (bad JSON, too large, wrong content type) get stable codes; anything else
 * is logged whole and answered as INTERNAL without its message.
 */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | AppError | Error, request, reply) => {
    if (error instanceof AppError) {
      if (error.status >= 500) request.log.error({ err: error }, 'request failed')
      return sendError(reply, request, error)
    }
    if (hasZodFastifySchemaValidationErrors(error)) {
      const details = error.validation.map((v) => ({
        path: v.instancePath || '/',
        message: v.message ?? 'invalid',
      }))
      return sendError(reply, request, new AppError('VALIDATION_FAILED', 'The request is not valid', { details }))
    }
    const fe = error as FastifyError
    if (fe.validation) {
      const details = fe.validation.map((v) => ({ path: v.instancePath || '/', message: v.message ?? 'invalid' }))
      return sendError(reply, request, new AppError('VALIDATION_FAILED', 'The request is not valid', { details }))
    }
    const status = fe.statusCode ?? 500
    if (status === 413) return sendError(reply, request, new AppError('PAYLOAD_TOO_LARGE', 'The request body is too large'))
    if (status === 415) {
      return sendError(reply, request, new AppError('UNSUPPORTED_MEDIA_TYPE', 'This content type is not supported'))
    }
    if (status === 429) return sendError(reply, request, new AppError('RATE_LIMITED', 'Too many requests'))
    if (status >= 400 && status < 500) {
      // Body parse errors (FST_ERR_CTP_*), empty JSON bodies and the like: the client's fault.
      return sendError(reply, request, new AppError('VALIDATION_FAILED', 'The request body could not be read'))
    }
    request.log.error({ err: error }, 'unhandled error')
    return sendError(reply, request, new AppError('INTERNAL', 'Something went wrong on our side'))
  })
  app.setNotFoundHandler((request, reply) => sendError(reply, request, notFound('Route')))
}
