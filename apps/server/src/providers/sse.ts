/**
 * Server-Sent Events parser over a byte stream, written for what upstream model APIs really send:
 * `data:` with or without a space, CRLF / LF / CR line ends, multi-byte UTF-8 characters split
 * across network chunks, comment lines (`:HTTP_STATUS/200`, `: keep-alive`), `event:`/`id:`
 * fields, and streams that stop without a terminator or in the middle of a line.
 *
 * Comments are reported as their own items so a caller can keep an idle timer running across them:
 * a keep-alive proves the socket is open, not that the model is producing anything.
 */

export interface SseEvent {
  type: 'event'
  /** The `event:` field; undefined when the upstream sent none (the spec's default "message"). */
  event?: string
  id?: string
  /** `data:` lines joined with "\n". */
  data: string
}

export interface SseComment {
  type: 'comment'
  text: string
}

export type SseItem = SseEvent | SseComment

/** Node streams, undici bodies and (in Node) web ReadableStreams are all async iterables of bytes. */
export type ByteSource = AsyncIterable<Uint8Array>

/** Incremental state machine: feed decoded text, take complete items out. */
export class SseLineParser {
  private buffer = ''
  /** The previous chunk ended in CR: a leading LF in the next chunk belongs to that line end. */
  private pendingCr = false
  private data: string[] = []
  private event: string | undefined
  private id: string | undefined
  private sawField = false
  private first = true

  /** Feeds text; returns the items completed by it. */
  push(text: string): SseItem[] {
    if (this.first && text.length > 0) {
      this.first = false
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
    }
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1)
    this.pendingCr = false
    this.buffer += text
    const out: SseItem[] = []
    let start = 0
    for (let i = 0; i < this.buffer.length; i++) {
      const c = this.buffer.charCodeAt(i)
      if (c !== 10 && c !== 13) continue
      this.line(this.buffer.slice(start, i), out)
      if (c === 13) {
        if (i + 1 < this.buffer.length) {
          if (this.buffer.charCodeAt(i + 1) === 10) i++
        } else {
          this.pendingCr = true
        }
      }
      start = i + 1
    }
    this.buffer = this.buffer.slice(start)
    return out
  }

  /**
   * End of stream. The pending event is dispatched even without the closing blank line (and its
   * last line even without a line end): some upstreams end the body right after the last `data:`.
   * If that line was really cut in transit, its JSON will not parse and the adapter reports a
   * broken stream, which is the right outcome either way.
   */
  end(): SseItem[] {
    const out: SseItem[] = []
    if (this.buffer !== '') this.line(this.buffer, out)
    this.buffer = ''
    this.dispatch(out)
    return out
  }

  private line(line: string, out: SseItem[]): void {
    if (line === '') {
      this.dispatch(out)
      return
    }
    if (line.startsWith(':')) {
      out.push({ type: 'comment', text: line.slice(1).trimStart() })
      return
    }
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    switch (field) {
      case 'data':
        this.data.push(value)
        this.sawField = true
        break
      case 'event':
        this.event = value
        this.sawField = true
        break
      case 'id':
        // The spec ignores ids containing NUL; so do we.
        if (!value.includes('\0')) this.id = value
        this.sawField = true
        break
      default:
        // `retry:` and unknown fields carry nothing we use.
        break
    }
  }

  private dispatch(out: SseItem[]): void {
    if (this.sawField && this.data.length > 0) {
      const item: SseEvent = { type: 'event', data: this.data.join('\n') }
      if (this.event !== undefined && this.event !== '') item.event = this.event
      if (this.id !== undefined) item.id = this.id
      out.push(item)
    }
    this.data = []
    this.event = undefined
    this.sawField = false
    // The last event id persists across events per the spec; we only report the current one.
    this.id = undefined
  }
}

/** Parses a byte stream into SSE events and comments. Errors of the source propagate unchanged. */
export async function* parseSse(source: ByteSource): AsyncGenerator<SseItem, void, undefined> {
  // A streaming decoder keeps the first bytes of a character split across chunks until the rest
  // arrives; decoding each chunk alone would produce U+FFFD pairs in Chinese text.
  const decoder = new TextDecoder('utf-8')
  const parser = new SseLineParser()
  for await (const chunk of source) {
    for (const item of parser.push(decoder.decode(chunk, { stream: true }))) yield item
  }
  const tail = decoder.decode()
  if (tail) for (const item of parser.push(tail)) yield item
  for (const item of parser.end()) yield item
}
