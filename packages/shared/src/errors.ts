/**
 * Every error code the API can answer with. The server maps each code to one HTTP status
 * (apps/server/src/errors.ts); the browser maps each code to a translated message.
 * Add codes freely; never rename one (clients switch on them).
 */
export const ERROR_CODES = [
  'VALIDATION_FAILED',
  'UNAUTHENTICATED',
  'AUTH_INVALID_CREDENTIALS',
  'AUTH_TOKEN_REUSED',
  'AUTH_TOKEN_INVALID',
  'ACCOUNT_DISABLED',
  'PASSWORD_TOO_SHORT',
  'PASSWORD_TOO_LONG',
  'PASSWORD_BREACHED',
  'TOO_MANY_ATTEMPTS',
  'REGISTRATION_CLOSED',
  'EMAIL_TAKEN',
  'USERNAME_TAKEN',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'RATE_LIMITED',
  'INSUFFICIENT_BALANCE',
  'URL_NOT_ALLOWED',
  'MODEL_NOT_FOUND',
  'MODEL_DISABLED',
  'UPSTREAM_RATE_LIMITED',
  'UPSTREAM_AUTH_FAILED',
  'UPSTREAM_BAD_REQUEST',
  'UPSTREAM_CONTENT_FILTERED',
  'UPSTREAM_UNAVAILABLE',
  'UPSTREAM_TIMEOUT',
  'SERVICE_UNAVAILABLE',
  'INTERNAL',
  // Stored on an answer cut short by the server: it shut down (drained) while answering, or died
  // and the sweeper closed the answer at the next start. Seen on messages, and in the final event
  // of a replayed turn (Idempotency-Key); never as the status of a fresh request.
  'SERVER_SHUTDOWN',
  'INTERRUPTED_BY_RESTART',
] as const

export type ErrorCode = (typeof ERROR_CODES)[number]

/** The body of every error answer under `/api`. */
export interface ErrorBody {
  error: {
    code: ErrorCode
    message: string
    requestId: string
    details?: Array<{ path: string; message: string }>
  }
}
