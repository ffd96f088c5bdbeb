/**
 * One request/response pair with the byte-level writing every endpoint shares: JSON answers,
 * protocol-shaped errors, and SSE streams where each event is its own `res.write` and the
 * stream faults (stall, cut, malformed chunk) are applied.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FaultBook, FaultOf, FaultType } from './faults'
import { errorBody, type Protocol, type Reject } from './protocol-errors'

export interface RecordedRequest {
  method: string
  /** Path without the query string. */
  path: string
  headers: Record<string, string | string[] | undefined>
  body: string
  /** Path and query string as received. */
  url: string
  /** Status sent, once the response started (undefined when the connection was dropped first). */
  status?: number
  /** True when the client went away before the response was complete. */
  aborted: boolean
}

export interface EmulatorSettings {
  chunkDelayMs: number
  taskPolls: number
  isValidKey(key: string): boolean
}

export class Exchange {
  /** Aborted when the client goes away or the emulator closes: ends waits early. */
  private readonly controller = new AbortController()
  readonly requestId = randomUUID()

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly url: URL,
    readonly body: string,
    readonly protocol: Protocol,
    readonly record: RecordedRequest,
    private readonly faults: FaultBook,
    readonly settings: EmulatorSettings,
    /** The emulator's own base URL (for links it hands out). */
    readonly baseUrl: string,
    shutdown: AbortSignal,
  ) {
    res.on('close', () => {
      if (!res.writableFinished) record.aborted = true
      this.controller.abort()
    })
    shutdown.addEventListener('abort', () => this.controller.abort(), { once: true, signal: this.controller.signal })
  }

  get path(): string {
    return this.url.pathname
  }

  get signal(): AbortSignal {
    return this.controller.signal
  }

  /** Whether writing more is pointless (client gone, socket destroyed, or emulator closing). */
  get gone(): boolean {
    return this.controller.signal.aborted || this.res.destroyed
  }

  header(name: string): string | undefined {
    const v = this.req.headers[name.toLowerCase()]
    return Array.isArray(v) ? v[0] : v
  }

  /** The bearer token, if the Authorization header carries one. */
  bearer(): string | undefined {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(this.header('authorization') ?? '')
    return m?.[1]
  }

  take<T extends FaultType>(type: T): FaultOf<T> | undefined {
    return this.faults.take(this.path, type)
  }

  /** Parses the body as a JSON object, or refuses in the protocol's words. */
  jsonBody(): Record<string, unknown> | undefined {
    try {
      const value: unknown = JSON.parse(this.body)
      return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined
    } catch {
      return undefined
    }
  }

  async wait(ms: number): Promise<void> {
    if (ms <= 0) return
    await sleep(ms, undefined, { signal: this.signal }).catch(() => undefined)
  }

  send(status: number, contentType: string, body: string | Buffer, headers: Record<string, string> = {}): void {
    if (this.gone) return
    this.record.status = status
    this.res.writeHead(status, { 'content-type': contentType, 'content-length': String(Buffer.byteLength(body)), ...this.extraHeaders(), ...headers })
    this.res.end(body)
  }

  json(status: number, value: unknown, headers: Record<string, string> = {}): void {
    this.send(status, 'application/json', JSON.stringify(value), headers)
  }

  reject(reject: Reject, headers: Record<string, string> = {}): void {
    const { contentType, body } = errorBody(this.protocol, reject, this.requestId)
    this.send(reject.status, contentType, body, headers)
  }

  /** Resets the TCP connection without sending a byte. */
  resetConnection(): void {
    this.record.aborted = true
    this.req.socket.resetAndDestroy()
  }

  private extraHeaders(): Record<string, string> {
    return this.protocol === 'native' || this.protocol === 'compat' ? { 'x-request-id': this.requestId } : {}
  }

  /**
   * Streams fully framed SSE events, one `res.write` each, `chunkDelayMs` apart. Stream faults
   * (stall, cut, malformed_chunk, raw_event) count data events and act after `afterChunks` of
   * them, capped so that they always strike before the final frame (the terminator or last event).
   */
  async stream(frames: readonly string[], malformed: (seq: number) => string): Promise<void> {
    if (this.gone) return
    this.record.status = 200
    this.res.writeHead(200, {
      'content-type': this.protocol === 'moonshot' ? 'text/event-stream' : 'text/event-stream;charset=UTF-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
      ...this.extraHeaders(),
    })
    this.res.flushHeaders()
    const last = Math.max(0, frames.length - 1)
    const stall = this.take('stall')
    const cut = this.take('cut')
    const bad = this.take('malformed_chunk')
    const raw = this.take('raw_event')
    const strikes = (f: { afterChunks: number } | undefined, sent: number) => f !== undefined && Math.min(f.afterChunks, last) === sent

    let sent = 0
    // Returns false when the stream must stop (cut, or the client left).
    const checkpoint = async (): Promise<boolean> => {
      if (strikes(bad, sent)) await this.write(malformed(sent + 1))
      if (raw && strikes(raw, sent)) await this.write(raw.raw)
      if (strikes(cut, sent)) {
        this.record.aborted = true
        this.res.socket?.destroy()
        return false
      }
      if (stall && strikes(stall, sent)) await this.stall(stall.delayMs, stall.keepAliveEveryMs)
      return !this.gone
    }
    if (!(await checkpoint())) return
    for (const frame of frames) {
      if (sent > 0) await this.wait(this.settings.chunkDelayMs)
      if (this.gone) return
      await this.write(frame)
      sent++
      if (sent < frames.length && !(await checkpoint())) return
    }
    this.res.end()
  }

  /** Holds the stream; with a keep-alive period, sends floor(delay/period) SSE comments meanwhile. */
  private async stall(delayMs: number, keepAliveEveryMs: number | undefined): Promise<void> {
    const beats = keepAliveEveryMs && keepAliveEveryMs > 0 ? Math.floor(delayMs / keepAliveEveryMs) : 0
    for (let i = 0; i < beats && !this.gone; i++) {
      await this.wait(keepAliveEveryMs!)
      await this.write(': keep-alive\n\n')
    }
    await this.wait(delayMs - beats * (keepAliveEveryMs ?? 0))
  }

  /** Resolves once the bytes are handed to the socket, so a following cut cannot swallow them. */
  private write(chunk: string): Promise<void> {
    if (this.gone) return Promise.resolve()
    return new Promise((resolve) => {
      // The callback may never run if the socket dies first; the abort covers that case.
      const done = () => {
        this.signal.removeEventListener('abort', done)
        resolve()
      }
      this.signal.addEventListener('abort', done, { once: true })
      this.res.write(chunk, done)
    })
  }
}
