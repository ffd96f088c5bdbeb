/**
 * Helpers for the emulator's own tests: plain fetch, raw SSE text, and parsers that check the
 * framing strictly rather than tolerating variations.
 */
import type { ReadableStream } from 'node:stream/web'
import { PNG } from 'pngjs'

export const KEY = 'sk-emulator-test'

/** A fetch Response whose JSON the tests assert on field by field. */
export interface TestResponse extends Response {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- upstream bodies are checked by the assertions themselves
  json(): Promise<any>
}

/** fetch with a JSON-friendly response type. */
export function send(url: string | URL, init: RequestInit = {}): Promise<TestResponse> {
  return fetch(url, init)
}

/** GET with the test key (or the given one). */
export function get(url: string | URL, key = KEY): Promise<TestResponse> {
  return send(url, { headers: { authorization: `Bearer ${key}` } })
}

/** POST a JSON body (or a raw string) with the test key; `headers` may override the key. */
export function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<TestResponse> {
  return send(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
}

export interface RawRead {
  text: string
  /** The error that ended the body early (a cut or reset connection), if any. */
  error?: unknown
}

/** Reads the whole body as text, keeping what arrived before a connection error. */
export async function readRaw(res: Response): Promise<RawRead> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  let text = ''
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      text += decoder.decode(value, { stream: true })
    }
    return { text: text + decoder.decode() }
  } catch (error) {
    return { text, error }
  }
}

/** The `data: ` payloads of an OpenAI-style stream, checking each event is exactly one `data: ` line. */
export function dataLines(text: string): string[] {
  const blocks = text.split('\n\n')
  if (blocks.at(-1) !== '') throw new Error(`stream does not end with a blank line: ${JSON.stringify(text.slice(-40))}`)
  return blocks.slice(0, -1).map((block) => {
    if (!block.startsWith('data: ') || block.includes('\n')) throw new Error(`bad event block: ${JSON.stringify(block)}`)
    return block.slice('data: '.length)
  })
}

export interface NativeEvent {
  id: string
  event: string
  status: string
  data: string
}

/** Native DashScope events: exactly `id:N`, `event:X`, `:HTTP_STATUS/N`, `data:{…}`, no spaces after colons. */
export function nativeEvents(text: string): NativeEvent[] {
  const blocks = text.split('\n\n')
  if (blocks.at(-1) !== '') throw new Error('stream does not end with a blank line')
  return blocks.slice(0, -1).map((block) => {
    const m = /^id:(\d+)\nevent:(result|error)\n:HTTP_STATUS\/(\d{3})\ndata:(\S.*)$/.exec(block)
    if (!m) throw new Error(`bad native event: ${JSON.stringify(block)}`)
    return { id: m[1]!, event: m[2]!, status: m[3]!, data: m[4]! }
  })
}

/** A data URI of a real PNG of this size. */
export function pngDataUri(width: number, height: number): string {
  const png = new PNG({ width, height })
  png.data.fill(200)
  return `data:image/png;base64,${PNG.sync.write(png).toString('base64')}`
}
