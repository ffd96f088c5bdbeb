import type { ChatStreamEvent, Message, TurnUsage } from '@qiao/shared'

/** One raw server-sent event: its name (default `message`) and its data lines joined by "\n". */
export interface RawSseEvent {
  event: string
  data: string
}

/**
 * Splits a byte stream into server-sent events (the WHATWG "event stream" grammar: LF, CR or
 * CRLF line ends, `:` comments, multi-line `data`). Only `event` and `data` fields matter here;
 * `id` and `retry` are ignored because a chat turn is never resumed by reconnecting.
 */
export async function* readSse(stream: ReadableStream<Uint8Array>): AsyncGenerator<RawSseEvent> {
  const reader = stream.getReader()
  // Streaming decode: a multi-byte character split across chunks is held until complete.
  const decoder = new TextDecoder()
  let buffer = ''
  let event = ''
  let data: string[] = []
  // A CR at the very end of a chunk may be half of a CRLF split across chunks.
  let pendingCr = false
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      let text = decoder.decode(value, { stream: true })
      if (pendingCr && text.startsWith('\n')) text = text.slice(1)
      pendingCr = false
      buffer += text
      let start = 0
      for (let i = 0; i < buffer.length; i++) {
        const ch = buffer[i]
        if (ch !== '\n' && ch !== '\r') continue
        const line = buffer.slice(start, i)
        if (ch === '\r') {
          if (i + 1 === buffer.length) pendingCr = true
          else if (buffer[i + 1] === '\n') i++
        }
        start = i + 1
        if (line === '') {
          if (data.length > 0) yield { event: event || 'message', data: data.join('\n') }
          event = ''
          data = []
          continue
        }
        if (line.startsWith(':')) continue
        const colon = line.indexOf(':')
        const field = colon < 0 ? line : line.slice(0, colon)
        let fieldValue = colon < 0 ? '' : line.slice(colon + 1)
        if (fieldValue.startsWith(' ')) fieldValue = fieldValue.slice(1)
        if (field === 'event') event = fieldValue
        else if (field === 'data') data.push(fieldValue)
      }
      buffer = buffer.slice(start)
    }
    // An event not followed by a blank line is incomplete and is dropped, as the spec says.
  } finally {
    reader.releaseLock()
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isMessage = (v: unknown): v is Message =>
  isObject(v) &&
  typeof v.id === 'string' &&
  typeof v.role === 'string' &&
  typeof v.content === 'string' &&
  typeof v.status === 'string'
const isUsage = (v: unknown): v is TurnUsage =>
  isObject(v) &&
  typeof v.promptTokens === 'number' &&
  typeof v.completionTokens === 'number' &&
  typeof v.cost === 'number'

/**
 * A raw event as one of the chat events we know, or undefined for anything else: heartbeats,
 * unknown event names, malformed or unexpected data. Data is parsed as JSON and only typed fields
 * are kept — nothing from the stream is ever evaluated or treated as markup (SECURITY E3).
 */
export function toChatEvent(raw: RawSseEvent): Exclude<ChatStreamEvent, { event: 'ping' }> | undefined {
  let data: unknown
  try {
    data = JSON.parse(raw.data)
  } catch {
    return undefined
  }
  if (!isObject(data)) return undefined
  switch (raw.event) {
    case 'message':
      return isMessage(data.message) ? { event: 'message', data: { message: data.message } } : undefined
    case 'delta': {
      const text = typeof data.text === 'string' ? data.text : undefined
      const reasoning = typeof data.reasoning === 'string' ? data.reasoning : undefined
      if (text === undefined && reasoning === undefined) return undefined
      return {
        event: 'delta',
        data: { ...(text !== undefined ? { text } : {}), ...(reasoning !== undefined ? { reasoning } : {}) },
      }
    }
    case 'done':
      return isMessage(data.message) && isUsage(data.usage)
        ? { event: 'done', data: { message: data.message, usage: data.usage } }
        : undefined
    case 'error':
      if (typeof data.code !== 'string' || typeof data.message !== 'string') return undefined
      return {
        event: 'error',
        data: {
          code: data.code,
          message: data.message,
          ...(isMessage(data.partialMessage) ? { partialMessage: data.partialMessage } : {}),
        },
      }
    default:
      return undefined
  }
}
