import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { ChatStreamEvent } from '@qiao/shared'
import { afterEach, describe, expect, it } from 'vitest'
import { SseWriter, sseFrame } from './sse-writer'

/** The SSE writer on a real socket: framing, heartbeats, and cutting a reader that stops reading. */

const servers: Array<{ close(): void }> = []
afterEach(() => {
  for (const s of servers.splice(0)) s.close()
})

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler)
  servers.push({ close: () => server.close() })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

describe('sseFrame', () => {
  it('writes one event line and one JSON data line, whatever the data holds', () => {
    const frame = sseFrame({ event: 'delta', data: { text: 'line one\nline two\r\n\nevent: execute' } })
    expect(frame.split('\n')).toEqual(['event: delta', 'data: {"text":"line one\\nline two\\r\\n\\nevent: execute"}', '', ''])
  })

  it('refuses event names outside the union, and names carrying newlines', () => {
    expect(() => sseFrame({ event: 'execute', data: {} } as unknown as ChatStreamEvent)).toThrow()
    expect(() => sseFrame({ event: 'delta\nevent: execute', data: {} } as unknown as ChatStreamEvent)).toThrow()
  })
})

describe('SseWriter', () => {
  it('flushes headers at once and sends heartbeats while idle', async () => {
    let writer: SseWriter | undefined
    const url = await serve((_req, res) => {
      writer = new SseWriter(res, { heartbeatMs: 20, drainTimeoutMs: 1_000 })
      writer.open({ 'x-request-id': 'abc12345' })
    })
    const res = await fetch(url)
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(res.headers.get('x-accel-buffering')).toBe('no')
    expect(res.headers.get('x-request-id')).toBe('abc12345')
    const reader = res.body!.getReader()
    let text = ''
    while ((text.match(/event: ping/g) ?? []).length < 2) text += new TextDecoder().decode((await reader.read()).value)
    writer!.end()
    await reader.cancel()
    expect(text.startsWith(': connected\n\n')).toBe(true)
  })

  it('G4: cuts a reader that stops reading once the buffer stays full past the drain timeout', async () => {
    let closedWith: string | undefined
    let sent: Promise<boolean[]> | undefined
    const url = await serve((_req, res) => {
      const writer = new SseWriter(res, { heartbeatMs: 60_000, drainTimeoutMs: 200 })
      writer.onClose((why) => (closedWith = why))
      writer.open({})
      const big = 'x'.repeat(64 * 1024)
      sent = (async () => {
        const results: boolean[] = []
        // Far more than socket buffers hold: some write must wait for a drain that never comes.
        for (let i = 0; i < 400 && !writer.closed; i++) results.push(await writer.send({ event: 'delta', data: { text: big } }))
        return results
      })()
    })
    // A client that reads the headers and then never reads the body.
    await new Promise<void>((resolve) => {
      const req = httpRequest(url, (res) => {
        res.pause()
        resolve()
      })
      req.end()
    })
    const results = await sent!
    expect(closedWith).toBe('slow_reader')
    expect(results.at(-1)).toBe(false)
    expect(results.length).toBeLessThan(400)
  })
})
