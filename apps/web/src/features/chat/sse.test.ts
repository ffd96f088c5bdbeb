import { describe, expect, it } from 'vitest'
import { readSse, toChatEvent, type RawSseEvent } from './sse'

/** A byte stream delivering `text` in the given pieces, to exercise splits at awkward places. */
function streamOf(pieces: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder()
  return new ReadableStream({
    start(controller) {
      for (const piece of pieces) controller.enqueue(encoder.encode(piece))
      controller.close()
    },
  })
}

async function collect(pieces: string[]): Promise<RawSseEvent[]> {
  const out: RawSseEvent[] = []
  for await (const event of readSse(streamOf(pieces))) out.push(event)
  return out
}

const message = {
  id: 'm1',
  conversationId: 'c1',
  role: 'assistant',
  content: '',
  model: 'qwen-plus',
  status: 'streaming',
  parentId: 'u1',
  createdAt: '2026-01-01T00:00:00Z',
}

describe('readSse', () => {
  it('splits events on blank lines whatever the chunking and line endings', async () => {
    const text =
      'event: delta\r\ndata: {"text":"你好"}\r\n\r\nevent: delta\ndata: {"text":"!"}\n\n: comment\n\nevent: done\rdata: {}\r\r'
    // Every possible split point, including between the CR and LF of a CRLF.
    for (let cut = 1; cut < text.length; cut++) {
      const events = await collect([text.slice(0, cut), text.slice(cut)])
      expect(events, `cut at ${cut}`).toEqual([
        { event: 'delta', data: '{"text":"你好"}' },
        { event: 'delta', data: '{"text":"!"}' },
        { event: 'done', data: '{}' },
      ])
    }
  })

  it('joins multi-line data and defaults the event name to message', async () => {
    expect(await collect(['data: a\ndata: b\n\n'])).toEqual([{ event: 'message', data: 'a\nb' }])
  })

  it('drops an event cut off before its blank line', async () => {
    expect(await collect(['event: delta\ndata: {"text":"x"}\n\nevent: delta\ndata: {"text":"y"}'])).toEqual([
      { event: 'delta', data: '{"text":"x"}' },
    ])
  })
})

describe('toChatEvent', () => {
  it('keeps the known events and only their typed fields', () => {
    expect(toChatEvent({ event: 'delta', data: '{"text":"hi","extra":"<script>alert(1)</script>"}' })).toEqual({
      event: 'delta',
      data: { text: 'hi' },
    })
    expect(toChatEvent({ event: 'delta', data: '{"reasoning":"hmm"}' })).toEqual({
      event: 'delta',
      data: { reasoning: 'hmm' },
    })
    expect(toChatEvent({ event: 'message', data: JSON.stringify({ message }) })).toEqual({
      event: 'message',
      data: { message },
    })
    const usage = { promptTokens: 3, completionTokens: 4, cost: 12 }
    expect(toChatEvent({ event: 'done', data: JSON.stringify({ message, usage }) })).toEqual({
      event: 'done',
      data: { message, usage },
    })
    expect(
      toChatEvent({
        event: 'error',
        data: JSON.stringify({ code: 'UPSTREAM_UNAVAILABLE', message: 'down', partialMessage: message }),
      }),
    ).toEqual({ event: 'error', data: { code: 'UPSTREAM_UNAVAILABLE', message: 'down', partialMessage: message } })
  })

  // SECURITY E3 (client side): a hostile stream's unknown events, script content and malformed
  // data are dropped or stay inert strings; nothing is evaluated.
  it('ignores heartbeats, unknown events, malformed data and wrong shapes', () => {
    let evaluated = false
    ;(globalThis as Record<string, unknown>).__qiaoPwned = () => {
      evaluated = true
    }
    expect(toChatEvent({ event: 'ping', data: '{}' })).toBeUndefined()
    expect(toChatEvent({ event: 'execute', data: '{"code":"globalThis.__qiaoPwned()"}' })).toBeUndefined()
    expect(toChatEvent({ event: 'delta', data: '{not json' })).toBeUndefined()
    expect(toChatEvent({ event: 'delta', data: '"just a string"' })).toBeUndefined()
    expect(toChatEvent({ event: 'delta', data: '{"text":42}' })).toBeUndefined()
    expect(toChatEvent({ event: 'done', data: '{"message":{}}' })).toBeUndefined()
    expect(toChatEvent({ event: 'error', data: '{"code":1}' })).toBeUndefined()
    const script = toChatEvent({
      event: 'delta',
      data: JSON.stringify({ text: '<script>globalThis.__qiaoPwned()</script>' }),
    })
    expect(script).toEqual({ event: 'delta', data: { text: '<script>globalThis.__qiaoPwned()</script>' } })
    expect(evaluated).toBe(false)
  })
})
