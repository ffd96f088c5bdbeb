/**
 * The one way adapters talk to upstreams: undici `request` through the caller's dispatcher (which
 * may be the SSRF-guarded one, so it is never bypassed and redirects are never followed), with
 * connect / first-byte / idle / total timeouts, bounded retries before the first byte, and prompt
 * cancellation through `ctx.signal`.
 *
 * Secrets: the provider key goes into the Authorization header and nowhere else. Nothing here logs,
 * and every error message is built from our own words plus upstream text with the key scrubbed out;
 * raw transport errors are never attached as `cause` (they can carry request options).
 */
import type { Dispatcher } from 'undici'
import { Agent } from '../platform/undici'
import { parseSse, type SseEvent, type SseItem } from './sse'
import { DEFAULT_RETRY, DEFAULT_TIMEOUTS, ProviderError, type RetryPolicy, type Timeouts, type UpstreamContext } from './types'

/** What an adapter's error mapper sees of a non-2xx answer (or an in-band error payload). */
export interface UpstreamFailure {
  /** HTTP status; 200 for an error that arrived inside a successful stream. */
  status: number
  /** The response body as text (truncated), or the `data:` of an error event. */
  body: string
  retryAfterMs?: number
  /** The upstream request id from response headers, when it sent one. */
  headerRequestId?: string
}

export type ErrorMapper = (failure: UpstreamFailure) => ProviderError

export interface UpstreamRequest {
  method: 'GET' | 'POST'
  url: string
  headers?: Record<string, string>
  /** Serialised as JSON. */
  body?: unknown
  /**
   * Whether sending the request twice cannot create two things upstream. Default true. A
   * non-idempotent call (an image task) is only retried when the upstream certainly did not act on
   * it: 429, 503, or a refused connection.
   */
  idempotent?: boolean
  mapError: ErrorMapper
}

export interface JsonResponse {
  json: unknown
  headers: Record<string, string | string[] | undefined>
}

/** Bodies above this are refused rather than buffered: no legitimate JSON answer is this large. */
const MAX_JSON_BYTES = 32 * 1024 * 1024
/** Error bodies are only read this far; the mapper needs the code, not a novel. */
const MAX_ERROR_BYTES = 64 * 1024

/** Transport errors that mean "the request did not get a response"; safe to retry for idempotent calls. */
const CONNECTION_ERROR_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
])

const agents = new Map<number, Dispatcher>()
/** Without a caller dispatcher, one shared Agent per connect timeout (connect timeouts live on the Agent). */
function defaultDispatcher(connectMs: number): Dispatcher {
  let agent = agents.get(connectMs)
  if (!agent) {
    agent = new Agent({ connect: { timeout: connectMs } })
    agents.set(connectMs, agent)
  }
  return agent
}

/** `base` + `path` with exactly one slash between them. */
export function joinUrl(base: string, path: string): string {
  // The usual case (runs on every call): no slash to trim on either side.
  if (!base.endsWith('/') && path.startsWith('/') && path[1] !== '/') return base + path
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date. Undefined when absent or unparsable. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value
  if (v === undefined || v.trim() === '') return undefined
  const trimmed = v.trim()
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000)
  // An HTTP date always names a weekday and month; Date.parse alone would read "-5" as a year.
  if (!/[a-z]{3}/i.test(trimmed)) return undefined
  const date = Date.parse(trimmed)
  if (Number.isNaN(date)) return undefined
  return Math.max(0, date - now)
}

/**
 * Removes the key from text that came from an upstream. Some providers echo a masked key back
 * (`sk-abc***xyz`); even a partial key is a secret in logs, so those shapes go too.
 */
export function scrubSecret(text: string, secret: string): string {
  let out = text
  if (secret.length >= 4) out = out.split(secret).join('[redacted]')
  return out.replace(/\b(sk|ak|key)-[A-Za-z0-9_-]*\*{2,}[A-Za-z0-9_-]*/gi, '[redacted]')
}

/** A copy of `err` with more info (ProviderError fields are read-only). */
export function withInfo(err: ProviderError, info: ProviderError['info']): ProviderError {
  return new ProviderError(err.kind, err.message, { ...err.info, ...info })
}

/** The same error with the key scrubbed out of its message (for errors built from in-band upstream text). */
export function scrubError(err: ProviderError, apiKey: string): ProviderError {
  const message = scrubSecret(err.message, apiKey)
  return message === err.message ? err : new ProviderError(err.kind, message, err.info)
}

/** Default mapping from an HTTP status alone, for codes a provider's table does not know. */
export function kindFromStatus(status: number): ProviderError['kind'] {
  if (status === 401 || status === 403) return 'auth_failed'
  if (status === 404) return 'not_found'
  if (status === 408 || status === 504) return 'timeout'
  if (status === 429) return 'rate_limited'
  if (status >= 500) return 'upstream_unavailable'
  if (status >= 400) return 'bad_request'
  return 'upstream_unavailable'
}

function headerString(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name]
  return Array.isArray(v) ? v[0] : v
}

type Phase = 'first byte' | 'idle' | 'total'

/** Response headers as undici parses them: lower-case names, repeated ones as arrays. */
type ResponseHeaders = Record<string, string | string[] | undefined>

/** Why a call's request is aborted by our own timers or its caller; never shown to anyone. */
const CALL_STOPPED = Object.freeze(new Error('upstream call stopped'))
/** Why an unfinished call is aborted at its end (only to free its socket); never shown to anyone. */
const CALL_CLOSED = Object.freeze(new Error('upstream call closed'))

/** A streamed body waiting unread beyond this pauses the socket (back-pressure to the upstream)... */
const HIGH_WATER_BYTES = 64 * 1024
/** ...until the reader has taken it down to this. */
const LOW_WATER_BYTES = 16 * 1024

/**
 * Calls watch their caller's signal through one shared listener per signal. A signal often serves
 * many calls (the /v1 routes hand out one per client connection), and adding and removing an
 * EventTarget listener on every call cost more than the rest of a call's bookkeeping.
 */
const abortWatchers = new WeakMap<AbortSignal, Set<() => void>>()

function watchAbort(signal: AbortSignal, onAbort: () => void): Set<() => void> {
  let watchers = abortWatchers.get(signal)
  if (!watchers) {
    const fresh = new Set<() => void>()
    abortWatchers.set(signal, fresh)
    signal.addEventListener('abort', () => fresh.forEach((fn) => fn()), { once: true })
    watchers = fresh
  }
  watchers.add(onAbort)
  return watchers
}

/**
 * One request and its answer, on undici's `dispatch` API (a DispatchHandler: Dispatcher.md). The
 * status and headers arrive first, then the body as Buffers, kept here until the reader takes them
 * (`text`, `bytes`, or iterating the exchange chunk by chunk). undici's `request()` wrapped the same
 * callbacks in an AsyncResource and a Node Readable read through an async iterator (end-of-stream
 * listeners, several promises a chunk): about a quarter of the CPU of a proxied /v1 call's upstream
 * leg (bench/README.md). More than HIGH_WATER_BYTES waiting unread pauses the socket, so a slow
 * reader slows the upstream instead of filling memory.
 */
class Exchange implements Dispatcher.DispatchHandler, AsyncIterableIterator<Buffer> {
  statusCode = 0
  headers: ResponseHeaders = {}
  private controller: Dispatcher.DispatchController | undefined
  private readonly chunks: Buffer[] = []
  private buffered = 0
  /** Buffered beyond this, the socket pauses (a stream's reader is behind, or a whole body is too large). */
  private maxBuffered = HIGH_WATER_BYTES
  /** Re-arm the call's idle timer on every chunk (whole bodies; a stream's reader keeps its own time). */
  private idleOnData = false
  private started = false
  private ended = false
  private failure: Error | undefined
  private wake: (() => void) | undefined

  constructor(private readonly call: Call) {}

  // ── undici's side ──
  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller
    // Stopped while it waited for a socket: it never goes out.
    if (this.call.stopped || this.failure) controller.abort(CALL_STOPPED)
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    // 1xx informational answers come before the real one.
    if (statusCode < 200) return
    this.statusCode = statusCode
    this.headers = headers
    this.started = true
    this.notify()
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.idleOnData) this.call.arm('idle')
    this.chunks.push(chunk)
    this.buffered += chunk.length
    if (this.buffered > this.maxBuffered) controller.pause()
    this.notify()
  }

  onResponseEnd(): void {
    this.ended = true
    this.notify()
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, error: Error): void {
    this.failure ??= error
    this.notify()
  }

  // ── the reader's side ──
  /** Stops the exchange (its socket is destroyed); a waiting reader gets `reason`. */
  abort(reason: Error): void {
    if (this.ended || this.failure) return
    // Still waiting for a socket: fail now, and onRequestStart aborts it once it gets one.
    if (!this.controller) this.onResponseError(undefined, reason)
    else this.controller.abort(reason)
  }

  /** What is left of the body is not wanted: the socket goes rather than be read to the end. */
  discard(): void {
    if (!this.ended) this.abort(CALL_CLOSED)
  }

  /** Resolves once the status and headers are in; throws what undici reported instead. */
  async response(): Promise<void> {
    while (!this.started) {
      if (this.failure) throw this.failure
      await this.changed()
    }
  }

  /** The whole body, up to `limit` bytes (`truncated` past that, the rest left unread). */
  async bytes(limit: number, idleTimer: boolean): Promise<{ bytes: Buffer; truncated: boolean }> {
    this.idleOnData = idleTimer
    // Body bytes that came with the head (one packet) are in already: from them on, the idle limit.
    if (idleTimer && this.buffered > 0) this.call.arm('idle')
    this.maxBuffered = limit
    if (this.buffered <= limit) this.controller?.resume()
    while (!this.ended && this.buffered <= limit) {
      if (this.failure) throw this.failure
      await this.changed()
    }
    if (this.failure && !this.ended) throw this.failure
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered)
    this.chunks.length = 0
    this.buffered = 0
    return all.length > limit ? { bytes: all.subarray(0, limit), truncated: true } : { bytes: all, truncated: false }
  }

  async text(limit: number, idleTimer: boolean): Promise<{ text: string; truncated: boolean }> {
    const { bytes, truncated } = await this.bytes(limit, idleTimer)
    return { text: bytes.toString('utf8'), truncated }
  }

  /** The body chunk by chunk (parseSse reads the exchange as an async iterable of bytes). */
  async next(): Promise<IteratorResult<Buffer>> {
    for (;;) {
      const chunk = this.chunks.shift()
      if (chunk) {
        this.buffered -= chunk.length
        if (this.buffered <= LOW_WATER_BYTES && this.controller?.paused) this.controller.resume()
        return { value: chunk, done: false }
      }
      if (this.failure) throw this.failure
      if (this.ended) return { value: undefined, done: true }
      await this.changed()
    }
  }

  /** A reader that stops early leaves the rest to `Call.close`, which aborts what is unfinished. */
  return(): Promise<IteratorResult<Buffer>> {
    return Promise.resolve({ value: undefined, done: true })
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  private changed(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve
    })
  }

  private notify(): void {
    const wake = this.wake
    if (wake) {
      this.wake = undefined
      wake()
    }
  }
}

/** One logical upstream call: its timers, its attempts, its cancellation and its retry budget. */
class Call {
  readonly timeouts: Timeouts
  readonly retry: RetryPolicy
  readonly dispatcher: Dispatcher
  /** The caller aborted or a timer expired: no attempt goes out any more. */
  stopped = false
  private phaseTimer: NodeJS.Timeout | undefined
  private phaseMs = 0
  private phase: Phase = 'first byte'
  private readonly totalTimer: NodeJS.Timeout
  private readonly deadline: number
  private timedOut: Phase | undefined
  private exchange: Exchange | undefined
  /** Set once the answer was read to its end: the socket is back in the pool, nothing to abort. */
  private finished = false
  /** Wakes a retry wait early when the call stops. */
  private interruptWait: (() => void) | undefined
  private readonly onAbort = (): void => this.stop()
  private readonly watchers: Set<() => void> | undefined

  constructor(private readonly ctx: UpstreamContext) {
    this.timeouts = ctx.timeouts ? { ...DEFAULT_TIMEOUTS, ...definedOnly(ctx.timeouts) } : DEFAULT_TIMEOUTS
    this.retry = ctx.retry ? { ...DEFAULT_RETRY, ...definedOnly(ctx.retry) } : DEFAULT_RETRY
    this.dispatcher = ctx.dispatcher ?? defaultDispatcher(this.timeouts.connectMs)
    this.deadline = Date.now() + this.timeouts.totalMs
    this.totalTimer = setTimeout(() => this.expire('total'), this.timeouts.totalMs)
    this.totalTimer.unref()
    if (ctx.signal?.aborted) this.stopped = true
    else if (ctx.signal) this.watchers = watchAbort(ctx.signal, this.onAbort)
  }

  /** Sends one attempt through the call's dispatcher. */
  send(options: Dispatcher.DispatchOptions): Exchange {
    const exchange = new Exchange(this)
    this.exchange = exchange
    try {
      this.dispatcher.dispatch(options, exchange)
    } catch (err) {
      exchange.onResponseError(undefined, err instanceof Error ? err : new Error(String(err)))
    }
    return exchange
  }

  private stop(): void {
    if (this.stopped) return
    this.stopped = true
    this.exchange?.abort(CALL_STOPPED)
    this.interruptWait?.()
  }

  private expire(phase: Phase): void {
    this.timedOut ??= phase
    this.stop()
  }

  arm(phase: 'first byte' | 'idle'): void {
    const ms = phase === 'first byte' ? this.timeouts.firstByteMs : this.timeouts.idleMs
    this.phase = phase
    // Re-armed on every chunk of a body: moving the running timer is cheaper than a new one.
    if (this.phaseTimer && this.phaseMs === ms) {
      this.phaseTimer.refresh()
      return
    }
    clearTimeout(this.phaseTimer)
    this.phaseMs = ms
    this.phaseTimer = setTimeout(() => this.expire(this.phase), ms)
    // Timers only ever abort this call; they must not keep a shutting-down process alive.
    this.phaseTimer.unref()
  }

  disarm(): void {
    clearTimeout(this.phaseTimer)
    this.phaseTimer = undefined
  }

  /** The answer was read to its end. */
  finish(): void {
    this.finished = true
  }

  close(): void {
    this.disarm()
    clearTimeout(this.totalTimer)
    this.watchers?.delete(this.onAbort)
    // Releases the socket if the body was not read to the end (consumer stopped early).
    if (!this.finished) this.exchange?.abort(CALL_CLOSED)
  }

  /** Milliseconds left before the total deadline. */
  remainingMs(): number {
    return this.deadline - Date.now()
  }

  /** Throws what an interrupted call should throw: the caller's abort reason, or a timeout. */
  throwIfStopped(): void {
    if (this.ctx.signal?.aborted) throw abortReason(this.ctx.signal)
    if (this.timedOut) throw new ProviderError('timeout', `Upstream ${this.timedOut} timeout`)
  }

  /** Converts anything thrown by undici into the error to surface; `connection` says whether it may be retried. */
  classify(err: unknown, stage: 'before response' | 'in body'): { error: unknown; connection: boolean; refused: boolean } {
    if (this.ctx.signal?.aborted) return { error: abortReason(this.ctx.signal), connection: false, refused: false }
    if (this.timedOut) return { error: new ProviderError('timeout', `Upstream ${this.timedOut} timeout`), connection: false, refused: false }
    if (err instanceof ProviderError) return { error: err, connection: false, refused: false }
    const code = errorCode(err)
    if (code === 'UND_ERR_CONNECT_TIMEOUT') return { error: new ProviderError('timeout', 'Upstream connect timeout'), connection: false, refused: false }
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
      return { error: new ProviderError('timeout', 'Upstream socket timeout'), connection: false, refused: false }
    }
    const what = stage === 'before response' ? 'Upstream connection failed' : 'Upstream stream broke off'
    const error = new ProviderError('upstream_unavailable', code ? `${what} (${code})` : what, { cause: { code } })
    return { error, connection: code !== undefined && CONNECTION_ERROR_CODES.has(code), refused: code === 'ECONNREFUSED' }
  }

  /** Waits before a retry, abortable; false when the wait would exceed the budget. */
  async backoff(attempt: number, retryAfterMs: number | undefined, waitedMs: number): Promise<number | undefined> {
    const exp = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** attempt)
    // Jitter spreads retries of many clients hit by the same outage; a Retry-After is a floor.
    const delay = retryAfterMs !== undefined ? retryAfterMs + Math.random() * Math.min(250, retryAfterMs * 0.1) : exp / 2 + (Math.random() * exp) / 2
    if (waitedMs + delay > this.retry.maxTotalWaitMs || delay >= this.remainingMs()) return undefined
    // Waiting is not the upstream being slow: the first-byte clock restarts with the next attempt.
    this.disarm()
    const stopped = await this.wait(delay)
    if (stopped) {
      this.throwIfStopped()
      throw new ProviderError('upstream_unavailable', 'Upstream call aborted')
    }
    return delay
  }

  /** Sleeps `ms`; resolves true early if the call is stopped meanwhile. */
  private wait(ms: number): Promise<boolean> {
    if (this.stopped) return Promise.resolve(true)
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.interruptWait = undefined
        resolve(false)
      }, ms)
      this.interruptWait = () => {
        this.interruptWait = undefined
        clearTimeout(timer)
        resolve(true)
      }
    })
  }
}

function definedOnly<T extends object>(o: Partial<T> | undefined): Partial<T> {
  if (!o) return {}
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}

function abortReason(signal: AbortSignal): unknown {
  const reason: unknown = signal.reason
  return reason instanceof Error ? reason : new DOMException('The operation was aborted', 'AbortError')
}

function errorCode(err: unknown): string | undefined {
  let e: unknown = err
  // undici wraps socket errors; the interesting code may sit one level down.
  for (let i = 0; i < 3 && e && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET') return code
    if (typeof code === 'string') {
      const inner = (e as { cause?: unknown }).cause
      const innerCode = inner && typeof inner === 'object' ? (inner as { code?: unknown }).code : undefined
      return typeof innerCode === 'string' ? innerCode : code
    }
    e = (e as { cause?: unknown }).cause
  }
  return undefined
}

function validateKey(apiKey: string): void {
  // A key with a line break would be a header injection; refuse it without echoing it.
  if (!/^[\x21-\x7e]+$/.test(apiKey)) throw new ProviderError('auth_failed', 'The provider key contains characters that cannot be sent')
}

/** Where a request goes, as undici's dispatchers take it. */
interface Target {
  origin: string
  path: string
}

/**
 * Upstream URLs are a handful of strings (channel base URL + endpoint), so each is parsed and
 * checked once rather than on every call. Bounded: an admin editing base URLs all day cannot grow it.
 */
const targets = new Map<string, Target>()
const MAX_TARGETS = 1_000

function upstreamTarget(href: string): Target {
  const known = targets.get(href)
  if (known) return known
  let url: URL
  try {
    url = new URL(href)
  } catch {
    throw new ProviderError('bad_request', 'The channel base URL is not a valid URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ProviderError('bad_request', 'The channel base URL must be http or https')
  const target = { origin: url.origin, path: `${url.pathname}${url.search}` }
  if (targets.size >= MAX_TARGETS) targets.clear()
  targets.set(href, target)
  return target
}

/**
 * Sends the request until it gets a 2xx (retrying per policy), then hands back the exchange, its
 * body not yet read. The phase timer is left on "first byte".
 */
async function open(call: Call, req: UpstreamRequest, ctx: UpstreamContext, accept: string): Promise<Exchange> {
  validateKey(ctx.apiKey)
  const target = upstreamTarget(req.url)
  const headers: Record<string, string> = {
    accept,
    ...req.headers,
    authorization: `Bearer ${ctx.apiKey}`,
  }
  const body = req.body === undefined ? undefined : JSON.stringify(req.body)
  if (body !== undefined) headers['content-type'] = 'application/json'
  const idempotent = req.idempotent ?? true
  let waited = 0
  for (let attempt = 0; ; attempt++) {
    call.throwIfStopped()
    call.arm('first byte')
    const exchange = call.send({
      origin: target.origin,
      path: target.path,
      method: req.method,
      headers,
      body: body ?? null,
      // Our own timers govern; undici's would fire with less precise errors.
      headersTimeout: 0,
      bodyTimeout: 0,
    })
    try {
      await exchange.response()
    } catch (err) {
      const c = call.classify(err, 'before response')
      const mayRetry = idempotent ? c.connection : c.refused
      if (mayRetry && attempt < call.retry.maxRetries) {
        const d = await call.backoff(attempt, undefined, waited)
        if (d !== undefined) {
          waited += d
          continue
        }
      }
      throw c.error
    }
    const status = exchange.statusCode
    if (status >= 200 && status < 300) return exchange

    let text: string
    try {
      text = (await exchange.text(MAX_ERROR_BYTES, false)).text
    } catch (err) {
      throw call.classify(err, 'in body').error
    } finally {
      exchange.discard()
    }
    if (status >= 300 && status < 400) {
      // Following a redirect could carry the key to another host (SECURITY F3).
      throw new ProviderError('upstream_unavailable', `Upstream answered with a redirect (${status}), which is not followed`, { status })
    }
    const retryAfterMs = parseRetryAfter(exchange.headers['retry-after'])
    const headerRequestId = headerString(exchange.headers, 'x-request-id') ?? headerString(exchange.headers, 'x-dashscope-request-id')
    let err = req.mapError({ status, body: scrubSecret(text, ctx.apiKey), retryAfterMs, headerRequestId })
    err = withInfo(err, {
      status: err.info.status ?? status,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      ...(err.info.upstreamRequestId === undefined && headerRequestId ? { upstreamRequestId: headerRequestId } : {}),
    })
    const transient = err.retryable && (status === 429 || status === 408 || status >= 500)
    const mayRetry = idempotent ? transient : transient && (status === 429 || status === 503)
    if (mayRetry && attempt < call.retry.maxRetries) {
      const d = await call.backoff(attempt, retryAfterMs, waited)
      if (d !== undefined) {
        waited += d
        continue
      }
    }
    throw err
  }
}

/** One JSON request/response with timeouts and retries. Throws ProviderError (or the caller's abort reason). */
export async function requestJson(req: UpstreamRequest, ctx: UpstreamContext): Promise<JsonResponse> {
  const call = new Call(ctx)
  try {
    const exchange = await open(call, req, ctx, 'application/json')
    let read: { text: string; truncated: boolean }
    try {
      // Between body chunks of a JSON answer, the idle limit applies.
      read = await exchange.text(MAX_JSON_BYTES, true)
    } catch (err) {
      throw call.classify(err, 'in body').error
    }
    if (read.truncated) throw new ProviderError('upstream_unavailable', 'Upstream response is too large')
    call.finish()
    try {
      return { json: JSON.parse(read.text) as unknown, headers: exchange.headers }
    } catch {
      throw new ProviderError('upstream_unavailable', 'Upstream sent malformed JSON', { status: exchange.statusCode })
    }
  } finally {
    call.close()
  }
}

/**
 * Opens an SSE stream (with retries before the first byte) and yields its data events. Nothing is
 * sent until the first `next()`. Timers: the first-byte limit runs until the first data event;
 * after it, the idle limit runs while we wait for the next data event; comments and keep-alives
 * reset neither. Leaving the loop early closes the socket.
 */
export async function* requestSse(req: UpstreamRequest, ctx: UpstreamContext): AsyncGenerator<SseEvent, void, undefined> {
  const call = new Call(ctx)
  try {
    const exchange = await open(call, req, ctx, 'text/event-stream')
    const contentType = headerString(exchange.headers, 'content-type') ?? ''
    if (contentType.includes('application/json')) {
      // Some upstreams answer a stream request with a plain JSON error at 200.
      let text: string
      try {
        text = (await exchange.text(MAX_ERROR_BYTES, true)).text
      } catch (err) {
        throw call.classify(err, 'in body').error
      }
      throw req.mapError({ status: exchange.statusCode, body: scrubSecret(text, ctx.apiKey) })
    }
    const items = parseSse(exchange)
    for (;;) {
      let next: IteratorResult<SseItem, void>
      try {
        next = await items.next()
      } catch (err) {
        throw call.classify(err, 'in body').error
      }
      if (next.done) {
        call.finish()
        break
      }
      const item = next.value
      if (item.type === 'comment') continue
      // The consumer's own pace (a slow client) is not upstream idleness: pause while it works.
      call.disarm()
      yield item
      call.arm('idle')
    }
    call.throwIfStopped()
  } finally {
    call.close()
  }
}

/**
 * Downloads a result file an upstream produced (a Wanx image on the provider's storage host).
 * Sent WITHOUT any credentials — the file host is not the API host and must never see a provider
 * key — through the caller's dispatcher (the SSRF-guarded one for hosts we do not operate), with
 * no redirects followed, and capped in size and time (SECURITY F3, F4).
 */
export async function downloadBytes(
  url: string,
  opts: { dispatcher?: Dispatcher | undefined; signal?: AbortSignal | undefined; maxBytes: number; timeoutMs: number },
): Promise<{ bytes: Buffer; contentType: string | undefined }> {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new ProviderError('upstream_unavailable', 'Upstream gave a result URL that is not valid')
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ProviderError('upstream_unavailable', 'Upstream gave a result URL that is not http(s)')
  const call = new Call({ baseUrl: '', apiKey: '', timeouts: { firstByteMs: opts.timeoutMs, totalMs: opts.timeoutMs }, ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}), ...(opts.signal ? { signal: opts.signal } : {}) })
  try {
    call.throwIfStopped()
    call.arm('first byte')
    const exchange = call.send({ origin: parsed.origin, path: `${parsed.pathname}${parsed.search}`, method: 'GET', headersTimeout: 0, bodyTimeout: 0 })
    try {
      await exchange.response()
    } catch (err) {
      throw call.classify(err, 'before response').error
    }
    if (exchange.statusCode !== 200) {
      exchange.discard()
      const status = exchange.statusCode
      throw new ProviderError(status === 404 || status === 403 ? 'not_found' : 'upstream_unavailable', `Result download answered HTTP ${status}`, { status })
    }
    let read: { bytes: Buffer; truncated: boolean }
    try {
      read = await exchange.bytes(opts.maxBytes, true)
    } catch (err) {
      throw call.classify(err, 'in body').error
    }
    if (read.truncated) throw new ProviderError('upstream_unavailable', 'Result file is larger than allowed')
    call.finish()
    return { bytes: read.bytes, contentType: headerString(exchange.headers, 'content-type') }
  } finally {
    call.close()
  }
}
