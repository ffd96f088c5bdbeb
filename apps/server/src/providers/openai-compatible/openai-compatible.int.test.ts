import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from '../emulator'
import { runChat } from '../fixtures/helpers'
import type { ChatRequest, UpstreamContext } from '../types'
import { openAICompatibleAdapter } from './index'

let emu: Emulator
let ctx: UpstreamContext

beforeAll(async () => {
  emu = await startEmulator({ chunkDelayMs: 1 })
  // Any base URL that already includes its version prefix.
  ctx = { baseUrl: `${emu.url}/compatible-mode/v1/`, apiKey: 'sk-generic-int' }
})
afterAll(async () => emu.close())

const req: ChatRequest = { model: 'qwen-turbo', messages: [{ role: 'user', content: 'Hello there' }], temperature: 0.3, topP: 0.9, maxTokens: 64, seed: 42, stop: ['\n\n'] }
const lastBody = (): Record<string, unknown> => JSON.parse(emu.requests.at(-1)!.body) as Record<string, unknown>

describe('plain OpenAI-compatible adapter against the emulator', () => {
  it('streams and answers whole with the same text and usage', async () => {
    const streamed = await runChat(openAICompatibleAdapter, req, ctx)
    expect(streamed.error).toBeUndefined()
    expect(emu.requests.at(-1)!.path).toBe('/compatible-mode/v1/chat/completions')
    expect(emu.requests.at(-1)!.headers.authorization).toBe('Bearer sk-generic-int')
    expect(lastBody()).toEqual({
      model: 'qwen-turbo',
      messages: [{ role: 'user', content: 'Hello there' }],
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.3,
      top_p: 0.9,
      max_tokens: 64,
      stop: ['\n\n'],
      seed: 42,
    })
    const whole = await runChat(openAICompatibleAdapter, { ...req, stream: false }, ctx)
    expect(whole.text).toBe(streamed.text)
    expect(whole.events.find((e) => e.type === 'usage')).toEqual(streamed.events.find((e) => e.type === 'usage'))
  })

  it('embeds via /embeddings', async () => {
    const res = await openAICompatibleAdapter.embed!({ model: 'text-embedding-v4', input: ['一', '二', '三'] }, ctx)
    expect(emu.requests.at(-1)!.path).toBe('/compatible-mode/v1/embeddings')
    expect(res.vectors).toHaveLength(3)
    expect(res.inputTokens).toBeGreaterThan(0)
  })

  it('maps errors with the generic table', async () => {
    expect((await runChat(openAICompatibleAdapter, req, { ...ctx, apiKey: 'sk-invalid-generic' })).error?.kind).toBe('auth_failed')
    expect((await runChat(openAICompatibleAdapter, { ...req, model: 'gpt-nope' }, ctx)).error?.kind).toBe('not_found')
    await expect(openAICompatibleAdapter.embed!({ model: 'text-embedding-v3', input: Array.from({ length: 11 }, (_, i) => `t${i}`) }, ctx)).rejects.toMatchObject({ kind: 'bad_request' })
  })
})
