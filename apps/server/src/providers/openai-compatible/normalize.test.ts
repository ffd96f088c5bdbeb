import { describe, expect, it } from 'vitest'
import { mapDashScopeError } from '../dashscope/errors'
import { collect, deliver, DELIVERIES, fixture, sseEvents, withLineEnds } from '../fixtures/helpers'
import { mapMoonshotError } from '../moonshot/errors'
import { ProviderError, type ChatEvent } from '../types'
import { compatResponseEvents, guardStream, normalizeCompatStream, type NormalizeOptions } from './normalize'

const dashscope: NormalizeOptions = { model: 'qwen-plus', reasoningFields: ['reasoning_content'], mapError: mapDashScopeError }
const moonshot: NormalizeOptions = { model: 'moonshot-v1-8k', reasoningFields: ['reasoning_content'], mapError: mapMoonshotError }

function run(text: string, opts: NormalizeOptions, how: (typeof DELIVERIES)[number] = 'whole'): Promise<ChatEvent[]> {
  return collect(guardStream(normalizeCompatStream(sseEvents(deliver(text, how)), opts), 'sk-test-key'))
}

async function failure(text: string, opts: NormalizeOptions): Promise<{ error: ProviderError; seen: ChatEvent[] }> {
  const seen: ChatEvent[] = []
  try {
    for await (const ev of guardStream(normalizeCompatStream(sseEvents(deliver(text, 'whole')), opts), 'sk-test-key')) seen.push(ev)
  } catch (error) {
    expect(error).toBeInstanceOf(ProviderError)
    return { error: error as ProviderError, seen }
  }
  throw new Error('expected the stream to fail')
}

const text = (events: ChatEvent[]): string =>
  events
    .filter((e) => e.type === 'text')
    .map((e) => e.delta)
    .join('')

describe('normalizeCompatStream on recorded fixtures', () => {
  describe.each(DELIVERIES)('delivered %s', (how) => {
    it.each(['lf', 'crlf', 'cr'] as const)('turns the compat text stream into start, text, usage, done (%s)', async (end) => {
      const events = await run(withLineEnds(fixture('compat-text.sse'), end), dashscope, how)
      expect(events[0]).toEqual({
        type: 'start',
        id: 'chatcmpl-6ada9ed2-7f33-4de2-8bb0-78bd4035025a',
        model: 'qwen3-max',
        upstreamRequestId: 'chatcmpl-6ada9ed2-7f33-4de2-8bb0-78bd4035025a',
      })
      expect(text(events)).toBe('你好，我是通义千问 🤖。')
      expect(events.slice(-2)).toEqual([
        { type: 'usage', inputTokens: 18, outputTokens: 9, cachedTokens: 6 },
        { type: 'done', finishReason: 'stop' },
      ])
    })

    it('separates reasoning from the answer and reports reasoning tokens', async () => {
      const events = await run(fixture('compat-reasoning.sse'), dashscope, how)
      expect(events.filter((e) => e.type === 'reasoning').map((e) => (e as { delta: string }).delta)).toEqual(['用户问 1+1，', '答案是 2。'])
      expect(text(events)).toBe('1+1=2')
      expect(events.at(-2)).toEqual({ type: 'usage', inputTokens: 12, outputTokens: 40, cachedTokens: 0, reasoningTokens: 33 })
      expect(events.at(-1)).toEqual({ type: 'done', finishReason: 'stop' })
    })

    it('passes tool call deltas through and finishes with tool_calls', async () => {
      const events = await run(fixture('compat-tools.sse'), dashscope, how)
      expect(events.filter((e) => e.type === 'tool_call')).toEqual([
        { type: 'tool_call', index: 0, id: 'call_8f2a', name: 'get_weather', argumentsDelta: '' },
        { type: 'tool_call', index: 0, argumentsDelta: '{"city":' },
        { type: 'tool_call', index: 0, argumentsDelta: '"杭州"}' },
      ])
      expect(events.slice(-2)).toEqual([
        { type: 'usage', inputTokens: 150, outputTokens: 21 },
        { type: 'done', finishReason: 'tool_calls' },
      ])
    })

    it('reads Moonshot usage from inside the last choice', async () => {
      const events = await run(fixture('moonshot-usage-in-choice.sse'), moonshot, how)
      expect(text(events)).toBe('月之暗面的 Kimi。')
      expect(events.slice(-2)).toEqual([
        { type: 'usage', inputTokens: 19, outputTokens: 7, cachedTokens: 0 },
        { type: 'done', finishReason: 'stop' },
      ])
    })

    it('reads Moonshot usage from a separate chunk, with reasoning', async () => {
      const events = await run(fixture('moonshot-usage-chunk.sse'), moonshot, how)
      expect(events.map((e) => e.type)).toEqual(['start', 'reasoning', 'text', 'usage', 'done'])
      expect(events.at(-2)).toEqual({ type: 'usage', inputTokens: 30, outputTokens: 12, cachedTokens: 24, reasoningTokens: 5 })
    })
  })

  it('re-frames only whitelisted fields from a hostile upstream (SECURITY E3)', async () => {
    const events = await run(fixture('hostile.sse'), dashscope, 'byte-by-byte')
    expect(events).toEqual([
      { type: 'start', id: 'chatcmpl-evil', model: 'qwen-plus', upstreamRequestId: 'chatcmpl-evil' },
      // Markup in content stays plain text; rendering it inertly is the client's job (E1).
      { type: 'text', delta: '<script>alert(1)</script>' },
      { type: 'text', delta: ' ok' },
      { type: 'usage', inputTokens: 5, outputTokens: 4 },
      { type: 'done', finishReason: 'stop' },
    ])
    const serialized = JSON.stringify(events)
    for (const leaked of ['INJECTED', 'execute', 'onerror', 'rm', 'AAAA', 'secret', 'system', 'refusal']) expect(serialized).not.toContain(leaked)
  })

  it('accepts a stream without [DONE] when the finish reason arrived', async () => {
    const events = await run(fixture('compat-text.sse').replace('data: [DONE]\n\n', ''), dashscope)
    expect(events.at(-1)).toEqual({ type: 'done', finishReason: 'stop' })
    expect(events.at(-2)).toMatchObject({ type: 'usage', inputTokens: 18 })
  })

  it('reports a stream that stops mid-way as upstream_unavailable after the first token', async () => {
    const full = fixture('compat-text.sse')
    const cut = full.slice(0, full.indexOf('"finish_reason":"stop"') - 200)
    const { error, seen } = await failure(cut, dashscope)
    expect(error.kind).toBe('upstream_unavailable')
    expect(error.info.afterFirstToken).toBe(true)
    expect(text(seen)).toContain('你好')
    expect(seen.some((e) => e.type === 'done')).toBe(false)
  })

  it('reports a malformed chunk as upstream_unavailable, not a crash', async () => {
    const bad = fixture('compat-text.sse').replace('{"choices":[{"delta":{"content":"，我是通义千问"}', '{"choices":[{"delta":{"content":"，我是通义千问"')
    const { error } = await failure(bad, dashscope)
    expect(error.kind).toBe('upstream_unavailable')
    expect(error.message).toMatch(/malformed/)
    expect(error.info.afterFirstToken).toBe(true)
  })

  it('reports an empty stream as upstream_unavailable before any token', async () => {
    const { error } = await failure(': keep-alive\n\n', dashscope)
    expect(error.kind).toBe('upstream_unavailable')
    expect(error.info.afterFirstToken).toBeUndefined()
  })

  it('maps an in-band error chunk with the provider table', async () => {
    const body = 'data: {"error":{"message":"Output data may contain inappropriate content.","type":"data_inspection_failed","code":"data_inspection_failed"}}\n\n'
    const { error } = await failure(body, dashscope)
    expect(error.kind).toBe('content_filtered')
    expect(error.info.upstreamCode).toBe('data_inspection_failed')
  })

  it('scrubs the key out of in-band error text', async () => {
    const body = 'data: {"error":{"message":"bad key sk-test-key for you","type":"invalid_request_error","code":"invalid_api_key"}}\n\n'
    const { error } = await failure(body, dashscope)
    expect(error.kind).toBe('auth_failed')
    expect(error.message).not.toContain('sk-test-key')
  })
})

describe('compatResponseEvents', () => {
  it('yields the same event vocabulary for a non-streaming answer', () => {
    const events = compatResponseEvents(
      {
        id: 'chatcmpl-1',
        model: 'qwen-plus',
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: '',
              reasoning_content: '想',
              tool_calls: [{ id: 'call_1', type: 'function', index: 0, function: { name: 'f', arguments: '{"a":1}' } }],
            },
            finish_reason: 'tool_calls',
          },
        ],
        usage: { prompt_tokens: 3019, completion_tokens: 104, total_tokens: 3123, prompt_tokens_details: { cached_tokens: 2048 } },
      },
      dashscope,
    )
    expect(events).toEqual([
      { type: 'start', id: 'chatcmpl-1', model: 'qwen-plus', upstreamRequestId: 'chatcmpl-1' },
      { type: 'reasoning', delta: '想' },
      { type: 'tool_call', index: 0, id: 'call_1', name: 'f', argumentsDelta: '{"a":1}' },
      { type: 'usage', inputTokens: 3019, outputTokens: 104, cachedTokens: 2048 },
      { type: 'done', finishReason: 'tool_calls' },
    ])
  })

  it('normalises unknown and legacy finish reasons', () => {
    const one = (finish_reason: unknown): ChatEvent | undefined =>
      compatResponseEvents({ choices: [{ message: { content: 'x' }, finish_reason }] }, dashscope).at(-1)
    expect(one('function_call')).toEqual({ type: 'done', finishReason: 'tool_calls' })
    expect(one('content_filter')).toEqual({ type: 'done', finishReason: 'content_filter' })
    expect(one('length')).toEqual({ type: 'done', finishReason: 'length' })
    expect(one('eos_token')).toEqual({ type: 'done', finishReason: 'stop' })
  })
})
