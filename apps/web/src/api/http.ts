import { ERROR_CODES, type ErrorBody, type ErrorCode } from '@qiao/shared'

/** What the browser can go wrong with beyond the server's codes: no answer at all, or an answer we cannot read. */
export type ClientErrorCode = ErrorCode | 'NETWORK' | 'UNKNOWN'

/** Every failed call throws this, built from the server's error body (API.md, "Conventions"). */
export class ApiError extends Error {
  override readonly name = 'ApiError'
  constructor(
    readonly code: ClientErrorCode,
    message: string,
    /** HTTP status; 0 when the request never got an answer. */
    readonly status: number,
    readonly requestId?: string,
    readonly extra: {
      details?: Array<{ path: string; message: string }>
      /** Seconds from `Retry-After`, on 429 and 503. */
      retryAfter?: number
    } = {},
  ) {
    super(message)
  }
}

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE'

export interface SendOptions {
  method?: HttpMethod
  body?: unknown
  /** Access token for `Authorization: Bearer`; refresh tokens never travel this way in the browser. */
  token?: string | null
  signal?: AbortSignal
}

const KNOWN_CODES: ReadonlySet<string> = new Set(ERROR_CODES)

/**
 * One HTTP call to our own origin. Cookies go along (`same-origin`) because the refresh token
 * lives in an HttpOnly cookie; JSON in, JSON out; anything but 2xx throws ApiError.
 */
export async function send<T>(path: string, options: SendOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' }
  if (options.body !== undefined) headers['content-type'] = 'application/json'
  if (options.token) headers.authorization = `Bearer ${options.token}`

  let response: Response
  try {
    response = await fetch(path, {
      method: options.method ?? 'GET',
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      credentials: 'same-origin',
      cache: 'no-store',
      signal: options.signal ?? null,
    })
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err
    throw new ApiError('NETWORK', 'Network request failed', 0)
  }

  if (response.ok) {
    if (response.status === 204) return undefined as T
    const text = await response.text()
    return (text ? JSON.parse(text) : undefined) as T
  }
  throw await toApiError(response)
}

/** The ApiError for a non-2xx answer; exported for callers that read the body themselves (SSE, uploads). */
export async function toApiError(response: Response): Promise<ApiError> {
  const requestId = response.headers.get('x-request-id') ?? undefined
  const retryHeader = Number(response.headers.get('retry-after'))
  const retryAfter = Number.isFinite(retryHeader) && retryHeader > 0 ? retryHeader : undefined
  let body: Partial<ErrorBody> | undefined
  try {
    body = (await response.json()) as Partial<ErrorBody>
  } catch {
    body = undefined
  }
  const error = body?.error
  if (error && typeof error.code === 'string' && KNOWN_CODES.has(error.code)) {
    return new ApiError(error.code, error.message, response.status, error.requestId ?? requestId, {
      ...(error.details ? { details: error.details } : {}),
      ...(retryAfter ? { retryAfter } : {}),
    })
  }
  // Not our error body: a proxy page, a gateway timeout, or a code newer than this build.
  const code: ClientErrorCode = response.status >= 502 && response.status <= 504 ? 'SERVICE_UNAVAILABLE' : 'UNKNOWN'
  return new ApiError(
    code,
    error?.message ?? response.statusText,
    response.status,
    requestId,
    retryAfter ? { retryAfter } : {},
  )
}
