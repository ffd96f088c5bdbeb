import { describe, expect, it } from 'vitest'
import { collect, deliver, DELIVERIES, fixture, insideCharacters, splitAt, withLineEnds, type LineEnd } from './fixtures/helpers'
import { parseSse, type SseItem } from './sse'

const parse = (text: string, how: (typeof DELIVERIES)[number] = 'whole'): Promise<SseItem[]> => collect(parseSse(deliver(text, how)))

describe('parseSse', () => {
  const ends: LineEnd[] = ['lf', 'crlf', 'cr']

  describe.each(ends)('with %s line ends', (end) => {
    it.each(DELIVERIES)('parses the compat fixture identically when delivered %s', async (how) => {
      const text = withLineEnds(fixture('compat-text.sse'), end)
      const items = await parse(text, how)
      const events = items.filter((i) => i.type === 'event')
      expect(events).toHaveLength(7)
      expect(events.at(-1)).toEqual({ type: 'event', data: '[DONE]' })
      // The Chinese text and the emoji survive any split.
      const joined = events.map((e) => e.data).join('')
      expect(joined).toContain('，我是通义千问')
      expect(joined).toContain('🤖')
      expect(joined).not.toContain('\uFFFD')
      expect(items).toEqual(await parse(withLineEnds(fixture('compat-text.sse'), 'lf')))
    })

    it.each(DELIVERIES)('parses native 4-line events (no space after colons) delivered %s', async (how) => {
      const items = await parse(withLineEnds(fixture('native-incremental.sse'), end), how)
      expect(items.map((i) => i.type)).toEqual(['comment', 'event', 'comment', 'event', 'comment', 'event'])
      expect(items[0]).toEqual({ type: 'comment', text: 'HTTP_STATUS/200' })
      const first = items[1]
      expect(first).toMatchObject({ type: 'event', event: 'result', id: '1' })
      expect(JSON.parse((first as { data: string }).data).output.choices[0].message.content).toBe('我')
    })
  })

  it('accepts data with and without a space after the colon, and strips only one space', async () => {
    const items = await parse('data:a\n\ndata: b\n\ndata:  c\n\n')
    expect(items).toEqual([
      { type: 'event', data: 'a' },
      { type: 'event', data: 'b' },
      { type: 'event', data: ' c' },
    ])
  })

  it('joins multi-line data with newlines and ignores retry and unknown fields', async () => {
    const items = await parse('retry: 100\nfoo: bar\ndata: one\ndata: two\n\n')
    expect(items).toEqual([{ type: 'event', data: 'one\ntwo' }])
  })

  it('reports comments separately, keep-alives included', async () => {
    const items = await parse(': keep-alive\n\n:HTTP_STATUS/200\ndata: x\n\n')
    expect(items).toEqual([
      { type: 'comment', text: 'keep-alive' },
      { type: 'comment', text: 'HTTP_STATUS/200' },
      { type: 'event', data: 'x' },
    ])
  })

  it('resets event and id after each dispatch', async () => {
    const items = await parse('event: error\nid: 7\ndata: a\n\ndata: b\n\n')
    expect(items).toEqual([
      { type: 'event', event: 'error', id: '7', data: 'a' },
      { type: 'event', data: 'b' },
    ])
  })

  it('does not dispatch an event without data', async () => {
    expect(await parse('event: ping\n\nid: 3\n\n')).toEqual([])
  })

  it('dispatches the last event when the stream ends without a blank line or final line end', async () => {
    expect(await parse('data: a\n\ndata: b\n')).toEqual([
      { type: 'event', data: 'a' },
      { type: 'event', data: 'b' },
    ])
    expect(await parse('data: a\n\ndata: {"x":1}')).toEqual([
      { type: 'event', data: 'a' },
      { type: 'event', data: '{"x":1}' },
    ])
  })

  it('hands a line cut in transit through as-is, so the JSON check downstream catches it', async () => {
    const items = await parse('data: {"a":1}\n\ndata: {"choi')
    expect(items.at(-1)).toEqual({ type: 'event', data: '{"choi' })
  })

  it('treats a CR at the end of one chunk and an LF at the start of the next as one line end', async () => {
    const bytes = new TextEncoder().encode('data: a\r\n\r\ndata: b\r\n\r\n')
    const items = await collect(parseSse(splitAt(bytes, [8, 10])))
    expect(items).toEqual([
      { type: 'event', data: 'a' },
      { type: 'event', data: 'b' },
    ])
  })

  it('decodes characters split at every possible byte inside them', async () => {
    const text = 'data: 桥🌉中文\n\n'
    const bytes = new TextEncoder().encode(text)
    for (const offset of insideCharacters(bytes)) {
      const items = await collect(parseSse(splitAt(bytes, [offset])))
      expect(items).toEqual([{ type: 'event', data: '桥🌉中文' }])
    }
  })

  it('strips a leading byte-order mark', async () => {
    expect(await parse('\uFEFFdata: x\n\n')).toEqual([{ type: 'event', data: 'x' }])
  })

  it('propagates an error of the byte source', async () => {
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield new TextEncoder().encode('data: a\n\n')
      throw new Error('socket hang up')
    }
    const seen: SseItem[] = []
    await expect(async () => {
      for await (const item of parseSse(broken())) seen.push(item)
    }).rejects.toThrow('socket hang up')
    expect(seen).toEqual([{ type: 'event', data: 'a' }])
  })
})
