import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from '../emulator'
import { collect, runChat, sseEvents } from '../fixtures/helpers'
import { normalizeCompatStream } from '../openai-compatible/normalize'
import type { ChatRequest, UpstreamContext } from '../types'
import { mapMoonshotError } from './errors'
import { moonshotAdapter } from './index'

const KEY = 'sk-moonshot-int-abcdef'
let emu: Emulator
let ctx: UpstreamContext

beforeAll(async () => {
  emu = await startEmulator({ chunkDelayMs: 1 })
  ctx = { baseUrl: emu.moonshotUrl, apiKey: KEY, retry: { baseDelayMs: 5, maxDelayMs: 20 } }
})
afterAll(async () => emu.close())
afterEach(() => emu.clearFaults())

const kimi: ChatRequest = { model: 'moonshot-v1-8k', messages: [{ role: 'system', content: '你是 Kimi。' }, { role: 'user', content: '你好' }] }
const lastBody = (): Record<string, unknown> => JSON.parse(emu.requests.at(-1)!.body) as Record<string, unknown>

describe('Moonshot adapter against the emulator', () => {
  it('streams with usage (in the last choice and as a chunk) equal to the non-streaming answer', async () => {
    const streamed = await runChat(moonshotAdapter, kimi, ctx)
    expect(streamed.error).toBeUndefined()
    expect(emu.requests.at(-1)!.path).toBe('/moonshot/v1/chat/completions')
    expect(lastBody()).toMatchObject({ stream: true, stream_options: { include_usage: true } })
    const whole = await runChat(moonshotAdapter, { ...kimi, stream: false }, ctx)
    expect(lastBody().stream).toBe(false)
    expect(streamed.text).toBe(whole.text)
    const usage = streamed.events.filter((e) => e.type === 'usage')
    // One usage event even though the upstream reported it twice.
    expect(usage).toHaveLength(1)
    expect(usage[0]).toEqual(whole.events.find((e) => e.type === 'usage'))
    expect(streamed.events.at(-1)).toEqual({ type: 'done', finishReason: 'stop' })
  })

  it('reads usage from the last choice when no usage chunk follows', async () => {
    const raw = await fetch(`${emu.moonshotUrl}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'moonshot-v1-8k', messages: kimi.messages, stream: false }),
    })
    const expected = ((await raw.json()) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage
    // A stream without include_usage: only the in-choice usage is there to read.
    const body = { model: 'moonshot-v1-8k', messages: kimi.messages, stream: true }
    const res = await fetch(`${emu.moonshotUrl}/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
    const events = await collect(normalizeCompatStream(sseEvents(res.body!), { model: 'moonshot-v1-8k', reasoningFields: ['reasoning_content'], mapError: mapMoonshotError }))
    expect(events.at(-2)).toMatchObject({ type: 'usage', inputTokens: expected.prompt_tokens, outputTokens: expected.completion_tokens })
  })

  it('streams reasoning from kimi-k2-thinking and sends earlier reasoning back', async () => {
    const first = await runChat(moonshotAdapter, { model: 'kimi-k2-thinking', messages: [{ role: 'user', content: '1+1?' }] }, ctx)
    expect(first.error).toBeUndefined()
    expect(first.reasoning.length).toBeGreaterThan(0)
    const second = await runChat(
      moonshotAdapter,
      {
        model: 'kimi-k2-thinking',
        messages: [
          { role: 'user', content: '1+1?' },
          { role: 'assistant', content: first.text, reasoningContent: first.reasoning },
          { role: 'user', content: '再加 1？' },
        ],
      },
      ctx,
    )
    expect(second.error).toBeUndefined()
    expect((lastBody().messages as Array<Record<string, unknown>>)[1]).toMatchObject({ role: 'assistant', reasoning_content: first.reasoning })
    // kimi-k2-thinking always thinks: no switch is sent.
    expect(lastBody()).not.toHaveProperty('thinking')
  })

  it('sends images to the vision preview model', async () => {
    const out = await runChat(
      moonshotAdapter,
      { model: 'moonshot-v1-8k-vision-preview', messages: [{ role: 'user', content: [{ type: 'image_url', url: 'https://example.com/a.png' }, { type: 'text', text: '描述' }] }] },
      ctx,
    )
    expect(out.error).toBeUndefined()
    expect((lastBody().messages as Array<{ content: unknown }>)[0]!.content).toEqual([
      { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
      { type: 'text', text: '描述' },
    ])
  })

  it('maps content filtering, unknown models and bad requests', async () => {
    emu.inject({ type: 'content_filter', stage: 'input' })
    expect((await runChat(moonshotAdapter, kimi, ctx)).error).toMatchObject({ kind: 'content_filtered', info: { upstreamCode: 'content_filter' } })
    emu.inject({ type: 'content_filter', stage: 'output' })
    expect((await runChat(moonshotAdapter, kimi, ctx)).error).toMatchObject({ kind: 'content_filtered', info: { afterFirstToken: true } })
    expect((await runChat(moonshotAdapter, { ...kimi, model: 'moonshot-v9' }, ctx)).error?.kind).toBe('not_found')
    expect((await runChat(moonshotAdapter, { ...kimi, messages: [] }, ctx)).error?.kind).toBe('bad_request')
  })

  it('has no embeddings', () => {
    expect('embed' in moonshotAdapter).toBe(false)
  })
})
