import type { ServerResponse } from 'node:http'
import type { ChatStreamEvent, ChatStreamEventName } from '@qiao/shared'
import type { FastifyReply } from 'fastify'

/**
 * Writes a chat turn as Server-Sent Events on a raw Node response. Only the closed set of event
 * names in ChatStreamEvent is written, data is always one line of JSON, and every frame is built
 * here — nothing an upstream sent is ever copied through as bytes (SECURITY E3).
 */

/**
 * The headers Fastify prepared for a reply that is about to be hijacked for SSE (request id, rate
 * limits, CORS, security headers): hijacked replies skip onSend, so `open` writes them itself.
 */
export function preparedHeaders(reply: FastifyReply): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (value === undefined || name === 'content-length' || name === 'content-type') continue
    out[name] = Array.isArray(value) ? value.join(', ') : String(value)
  }
  return out
}

const EVENT_NAMES: ReadonlySet<ChatStreamEventName> = new Set(['message', 'delta', 'done', 'error', 'ping'])

export interface SseWriterOptions {
  /** Interval of `event: ping` heartbeats that keep idle proxies from closing the stream. */
  heartbeatMs: number
  /** How long a full socket buffer may stay full before the reader is deemed too slow and cut (G4). */
  drainTimeoutMs: number
  /**
   * Heartbeats as comment lines (`: ping`) instead of `event: ping`: OpenAI clients (the /v1
   * gateway) parse the data of every event as a chunk, so they must see no events of ours.
   */
  commentHeartbeat?: boolean
}

export type SseCloseReason = 'client' | 'slow_reader'

/** Builds one SSE frame; refuses event names outside the union (and so any newline injection). */
export function sseFrame(event: ChatStreamEvent): string {
  if (!EVENT_NAMES.has(event.event) || /[\r\n]/.test(event.event)) throw new Error(`refusing SSE event name ${JSON.stringify(event.event)}`)
  // JSON.stringify escapes every line break inside strings, so `data:` stays a single line.
  return `event: ${event.event}\ndata: ${JSON.stringify(event.data)}\n\n`
}

export class SseWriter {
  private heartbeat: NodeJS.Timeout | undefined
  private ended = false
  private waitingForDrain = false
  private closeReason: SseCloseReason | undefined
  private readonly closeListeners: Array<(reason: SseCloseReason) => void> = []

  constructor(
    private readonly raw: ServerResponse,
    private readonly options: SseWriterOptions,
  ) {
    raw.on('close', () => {
      // 'close' after our own end() is the normal finish; before it, the reader left.
      if (!this.ended) this.markClosed('client')
    })
    // The reader may have left before we got here (while the turn was being stored).
    if (raw.destroyed || raw.socket?.destroyed) this.markClosed('client')
  }

  /**
   * Sends status and headers at once. `headers` are what Fastify had prepared for the reply
   * (request id, CORS, the security headers of platform/security-headers.ts).
   */
  open(headers: Record<string, string>): void {
    this.raw.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
      'x-content-type-options': 'nosniff',
    })
    this.raw.flushHeaders()
    // Small frames go out at once rather than waiting to be coalesced (absent on injected test sockets).
    if (typeof this.raw.socket?.setNoDelay === 'function') this.raw.socket.setNoDelay(true)
    // A comment line: proxies see the first body byte at once, clients ignore it.
    this.raw.write(': connected\n\n')
    this.heartbeat = setInterval(() => {
      if (this.waitingForDrain) return
      void (this.options.commentHeartbeat ? this.write(': ping\n\n') : this.send({ event: 'ping', data: {} }))
    }, this.options.heartbeatMs)
    this.heartbeat.unref()
  }

  /** True once the reader is gone or the stream was ended; further sends are dropped. */
  get closed(): boolean {
    return this.ended || this.closeReason !== undefined
  }

  onClose(listener: (reason: SseCloseReason) => void): void {
    if (this.closeReason) listener(this.closeReason)
    else this.closeListeners.push(listener)
  }

  /**
   * Writes one event. Resolves false when the stream is closed. When the socket buffer is full it
   * waits for 'drain' — which also slows the upstream read — and cuts a reader that stays stalled.
   */
  async send(event: ChatStreamEvent): Promise<boolean> {
    return this.write(sseFrame(event))
  }

  /**
   * One `data:`-only frame, the OpenAI wire format: `data` is serialised here (one line), or the
   * literal `[DONE]` terminator. Same back-pressure as `send`.
   */
  async sendData(data: object | '[DONE]'): Promise<boolean> {
    return this.write(`data: ${data === '[DONE]' ? data : JSON.stringify(data)}\n\n`)
  }

  private async write(frame: string): Promise<boolean> {
    if (this.closed) return false
    const ok = this.raw.write(frame)
    if (ok) return true
    this.waitingForDrain = true
    try {
      const drained = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => finish(false), this.options.drainTimeoutMs)
        const onDrain = () => finish(true)
        const onClose = () => finish(false)
        const finish = (value: boolean) => {
          clearTimeout(timer)
          this.raw.off('drain', onDrain)
          this.raw.off('close', onClose)
          resolve(value)
        }
        this.raw.once('drain', onDrain)
        this.raw.once('close', onClose)
      })
      if (!drained && !this.closed) {
        this.markClosed('slow_reader')
        this.raw.destroy()
      }
      return drained && !this.closed
    } finally {
      this.waitingForDrain = false
    }
  }

  /** Ends the response; safe to call more than once and after the reader left. */
  end(): void {
    clearInterval(this.heartbeat)
    if (this.ended) return
    this.ended = true
    if (!this.raw.destroyed && !this.raw.writableEnded) this.raw.end()
  }

  private markClosed(reason: SseCloseReason): void {
    if (this.closeReason) return
    this.closeReason = reason
    clearInterval(this.heartbeat)
    for (const l of this.closeListeners.splice(0)) l(reason)
  }
}
