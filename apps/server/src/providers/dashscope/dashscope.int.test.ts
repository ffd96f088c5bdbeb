import { PNG } from 'pngjs'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from '../emulator'
import { runChat } from '../fixtures/helpers'
import type { ChatRequest, UpstreamContext } from '../types'
import { dashScopeAdapter, waitForImageTask } from './index'

const KEY = 'sk-dashscope-int-0123456789'
let emu: Emulator
let ctx: UpstreamContext

beforeAll(async () => {
  emu = await startEmulator({ taskPolls: 2, chunkDelayMs: 1 })
  ctx = { baseUrl: emu.url, apiKey: KEY, retry: { baseDelayMs: 5, maxDelayMs: 20 } }
})
afterAll(async () => emu.close())
afterEach(() => emu.clearFaults())

const hello: ChatRequest = { model: 'qwen-plus', messages: [{ role: 'user', content: '你好，请介绍一下你自己。' }] }

/** What the emulator itself reports for a request, asked directly (non-streaming). */
async function emulatorUsage(path: string, body: unknown): Promise<{ prompt_tokens: number; completion_tokens: number }> {
  const res = await fetch(`${emu.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
  const json = (await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number } }
  return json.usage
}

const lastBody = (): Record<string, unknown> => JSON.parse(emu.requests.at(-1)!.body) as Record<string, unknown>

function tinyPngDataUri(): string {
  const png = new PNG({ width: 32, height: 32, colorType: 2 })
  png.data.fill(200)
  return `data:image/png;base64,${PNG.sync.write(png).toString('base64')}`
}

describe('DashScope adapter against the emulator (compatible mode)', () => {
  it('streams text with the usage numbers the emulator reports', async () => {
    const out = await runChat(dashScopeAdapter, hello, ctx)
    expect(out.error).toBeUndefined()
    expect(out.events[0]).toMatchObject({ type: 'start', model: 'qwen-plus' })
    expect((out.events[0] as { upstreamRequestId?: string }).upstreamRequestId).toMatch(/^chatcmpl-/)
    expect(out.text.length).toBeGreaterThan(0)
    expect(out.events.at(-1)).toEqual({ type: 'done', finishReason: 'stop' })
    const body = lastBody()
    expect(emu.requests.at(-1)!.path).toBe('/compatible-mode/v1/chat/completions')
    expect(body).toMatchObject({ model: 'qwen-plus', stream: true, stream_options: { include_usage: true } })
    const expected = await emulatorUsage('/compatible-mode/v1/chat/completions', { model: 'qwen-plus', messages: body.messages })
    expect(out.events.at(-2)).toMatchObject({ type: 'usage', inputTokens: expected.prompt_tokens, outputTokens: expected.completion_tokens })
  })

  it('makes a non-streaming call for stream:false and yields the same events', async () => {
    const streamed = await runChat(dashScopeAdapter, hello, ctx)
    const whole = await runChat(dashScopeAdapter, { ...hello, stream: false }, ctx)
    expect(lastBody().stream).toBe(false)
    expect(whole.text).toBe(streamed.text)
    expect(whole.events.map((e) => e.type)).toEqual(['start', 'text', 'usage', 'done'])
    expect(whole.events.at(-2)).toEqual(streamed.events.at(-2))
  })

  it('streams reasoning separately with enable_thinking, even when one answer was asked for', async () => {
    const out = await runChat(dashScopeAdapter, { ...hello, thinking: true, stream: false }, { ...ctx, options: { thinkingBudget: 256 } })
    expect(out.error).toBeUndefined()
    expect(lastBody()).toMatchObject({ stream: true, enable_thinking: true, thinking_budget: 256 })
    expect(out.reasoning.length).toBeGreaterThan(0)
    expect(out.text.length).toBeGreaterThan(0)
    const usage = out.events.find((e) => e.type === 'usage')
    expect(usage).toMatchObject({ type: 'usage' })
    expect((usage as { reasoningTokens?: number }).reasoningTokens).toBeGreaterThan(0)
  })

  it('sends image parts to a VL model (data URI and URL)', async () => {
    const out = await runChat(
      dashScopeAdapter,
      {
        model: 'qwen-vl-plus',
        messages: [
          {
            role: 'user',
            content: [
              { type: 'image_url', url: tinyPngDataUri() },
              { type: 'image_url', url: 'https://example.com/cat.jpg' },
              { type: 'text', text: '图里有什么？' },
            ],
          },
        ],
      },
      { ...ctx, options: { nativeChat: true } },
    )
    expect(out.error).toBeUndefined()
    // Even with nativeChat set, images go through the compatible mode.
    expect(emu.requests.at(-1)!.path).toBe('/compatible-mode/v1/chat/completions')
    const content = (lastBody().messages as Array<{ content: unknown }>)[0]!.content as Array<Record<string, unknown>>
    expect(content[0]).toMatchObject({ type: 'image_url', image_url: { url: expect.stringMatching(/^data:image\/png;base64,/) } })
    expect(content[1]).toEqual({ type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } })
    expect(out.text.length).toBeGreaterThan(0)
  })

  it('passes tools, tool_choice and response_format through untouched', async () => {
    const tools = [{ type: 'function', function: { name: 'get_weather', description: '天气', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }]
    const out = await runChat(
      dashScopeAdapter,
      { ...hello, messages: [{ role: 'user', content: 'Reply in json please' }], tools, toolChoice: 'auto', responseFormat: { type: 'json_object' } },
      ctx,
    )
    expect(out.error).toBeUndefined()
    expect(lastBody()).toMatchObject({ tools, tool_choice: 'auto', response_format: { type: 'json_object' } })
  })

  it('embeds through the compatible mode, vectors in input order', async () => {
    const res = await dashScopeAdapter.embed!({ model: 'text-embedding-v3', input: ['你好', 'world'], dimensions: 512 }, ctx)
    expect(emu.requests.at(-1)!.path).toBe('/compatible-mode/v1/embeddings')
    expect(res.vectors).toHaveLength(2)
    expect(res.vectors[0]).toHaveLength(512)
    expect(res.vectors[0]).not.toEqual(res.vectors[1])
    expect(res.inputTokens).toBeGreaterThan(0)
  })

  it('maps an unknown model to not_found', async () => {
    const out = await runChat(dashScopeAdapter, { ...hello, model: 'qwen-nope' }, ctx)
    expect(out.error?.kind).toBe('not_found')
  })
})

describe('DashScope native text generation (nativeChat)', () => {
  const native = (): UpstreamContext => ({ ...ctx, options: { nativeChat: true } })

  it('streams over the native SSE protocol with the emulator usage', async () => {
    const out = await runChat(dashScopeAdapter, hello, native())
    expect(out.error).toBeUndefined()
    const req = emu.requests.at(-1)!
    expect(req.path).toBe('/api/v1/services/aigc/text-generation/generation')
    expect(req.headers['x-dashscope-sse']).toBe('enable')
    expect(lastBody()).toMatchObject({ model: 'qwen-plus', input: { messages: [{ role: 'user', content: hello.messages[0]!.content }] }, parameters: { result_format: 'message', incremental_output: true } })
    expect(out.events[0]).toMatchObject({ type: 'start', upstreamRequestId: expect.any(String) })
    const compat = await runChat(dashScopeAdapter, hello, ctx)
    // Same deterministic answer and the same counts on both protocols.
    expect(out.text).toBe(compat.text)
    expect(out.events.at(-2)).toMatchObject({ type: 'usage', inputTokens: (compat.events.at(-2) as { inputTokens: number }).inputTokens })
    expect(out.events.at(-1)).toEqual({ type: 'done', finishReason: 'stop' })
  })

  it('rebuilds deltas from cumulative text when incremental output is off', async () => {
    const incremental = await runChat(dashScopeAdapter, hello, native())
    const cumulative = await runChat(dashScopeAdapter, hello, { ...ctx, options: { nativeChat: true, incrementalOutput: false } })
    expect(lastBody()).toMatchObject({ parameters: { incremental_output: false } })
    expect(cumulative.text).toBe(incremental.text)
  })

  it('answers non-streaming and with reasoning', async () => {
    const whole = await runChat(dashScopeAdapter, { ...hello, stream: false }, native())
    expect(emu.requests.at(-1)!.headers['x-dashscope-sse']).toBeUndefined()
    expect(whole.events.map((e) => e.type)).toEqual(['start', 'text', 'usage', 'done'])
    const thinking = await runChat(dashScopeAdapter, { ...hello, thinking: true }, native())
    expect(thinking.reasoning.length).toBeGreaterThan(0)
    expect(lastBody()).toMatchObject({ parameters: { enable_thinking: true } })
  })

  it('maps a mid-stream event:error (output moderation) to content_filtered after the first token', async () => {
    emu.inject({ type: 'content_filter', stage: 'output' })
    const out = await runChat(dashScopeAdapter, hello, native())
    expect(out.error?.kind).toBe('content_filtered')
    expect(out.error?.info.afterFirstToken).toBe(true)
    expect(out.text.length).toBeGreaterThan(0)
  })

  it('maps native 401 and input moderation', async () => {
    const bad = await runChat(dashScopeAdapter, hello, { ...native(), apiKey: 'sk-invalid-native' })
    expect(bad.error).toMatchObject({ kind: 'auth_failed', info: { status: 401, upstreamCode: 'InvalidApiKey' } })
    emu.inject({ type: 'content_filter', stage: 'input' })
    const filtered = await runChat(dashScopeAdapter, hello, native())
    expect(filtered.error).toMatchObject({ kind: 'content_filtered', info: { status: 400, upstreamCode: 'DataInspectionFailed' } })
  })
})

describe('DashScope Wanx image tasks', () => {
  // Real polling pace is 1–5 s; the tests keep the schedule but not the wall time.
  const quick = { timeoutMs: 60_000, sleep: async () => {} }

  it('creates a task with X-DashScope-Async and polls it to SUCCEEDED', async () => {
    const created = await dashScopeAdapter.createImageTask!({ model: 'wanx2.1-t2i-turbo', prompt: '雪中的红狐，水彩', size: '512*512', n: 2, seed: 7 }, ctx)
    const req = emu.requests.at(-1)!
    expect(req.path).toBe('/api/v1/services/aigc/text2image/image-synthesis')
    expect(req.headers['x-dashscope-async']).toBe('enable')
    expect(created.status).toBe('pending')
    expect(created.upstreamRequestId).toBeTruthy()
    const done = await waitForImageTask(dashScopeAdapter, created.taskId, ctx, quick)
    expect(done.status).toBe('succeeded')
    expect(done.images).toHaveLength(2)
    for (const image of done.images) expect(image).toMatchObject({ url: expect.stringContaining('Expires=') })
    expect(done.imageCount).toBe(2)
    expect(emu.requests.filter((r) => r.path === `/api/v1/tasks/${created.taskId}`).length).toBeGreaterThanOrEqual(2)
  })

  it('reports a partial failure per image', async () => {
    emu.inject({ type: 'image_partial_failure', failed: 1 })
    const created = await dashScopeAdapter.createImageTask!({ model: 'wanx2.1-t2i-turbo', prompt: 'a fox', size: '512*512', n: 3 }, ctx)
    const done = await waitForImageTask(dashScopeAdapter, created.taskId, ctx, quick)
    expect(done.status).toBe('succeeded')
    expect(done.images.filter((i) => 'url' in i)).toHaveLength(2)
    expect(done.images.at(-1)).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) } })
    expect(done.imageCount).toBe(2)
  })

  it('reports a failed task with its code', async () => {
    emu.inject({ type: 'image_task_failed', code: 'InternalError.Algo', message: 'algorithm failed' })
    const created = await dashScopeAdapter.createImageTask!({ model: 'wanx-v1', prompt: 'a fox', n: 1 }, ctx)
    const done = await waitForImageTask(dashScopeAdapter, created.taskId, ctx, quick)
    expect(done.status).toBe('failed')
    expect(done.error).toEqual({ code: 'InternalError.Algo', message: 'algorithm failed' })
  })

  it('reports an unknown task id as unknown', async () => {
    const res = await dashScopeAdapter.getImageTask!('0385dc79-5ff8-4d82-bcb6-000000000000', ctx)
    expect(res.status).toBe('unknown')
  })

  it('does not resubmit an image task after a 500 (it may already exist upstream)', async () => {
    emu.inject({ type: 'http_error', status: 500 }, { path: '/api/v1/services/aigc/text2image' })
    const before = emu.requests.length
    await expect(dashScopeAdapter.createImageTask!({ model: 'wanx-v1', prompt: 'a fox' }, ctx)).rejects.toMatchObject({ kind: 'upstream_unavailable' })
    expect(emu.requests.length - before).toBe(1)
  })
})
