import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { startEmulator, type Emulator } from './index'
import { dataLines, get, nativeEvents, post, readRaw, send } from './test-support'

let emu: Emulator
beforeAll(async () => {
  emu = await startEmulator({ chunkDelayMs: 1 })
})
afterEach(() => emu.clearFaults())
afterAll(() => emu.close())

const messages = [{ role: 'user', content: 'Who are you?' }]
const compat = () => `${emu.url}/compatible-mode/v1/chat/completions`
const native = () => `${emu.url}/api/v1/services/aigc/text-generation/generation`
const moonshot = () => `${emu.moonshotUrl}/chat/completions`
const compatStream = () => post(compat(), { model: 'qwen-plus', messages, stream: true })
const nativeStream = () => post(native(), { model: 'qwen-plus', input: { messages }, parameters: { incremental_output: true } }, { 'X-DashScope-SSE': 'enable' })

describe('http_error fault', () => {
  it('answers in each protocol’s own error shape with default codes and Retry-After', async () => {
    emu.inject({ type: 'http_error', status: 429, retryAfterSeconds: 2 }, { times: 3 })
    const n = await post(native(), { model: 'qwen-plus', input: { messages } })
    expect(n.status).toBe(429)
    expect(n.headers.get('retry-after')).toBe('2')
    expect(await n.json()).toEqual({ code: 'Throttling.RateQuota', message: expect.any(String), request_id: expect.any(String) })
    const c = await post(compat(), { model: 'qwen-plus', messages })
    expect(c.status).toBe(429)
    expect((await c.json()).error).toEqual({ code: 'limit_requests', type: 'limit_requests', param: null, message: expect.any(String) })
    const m = await post(moonshot(), { model: 'moonshot-v1-8k', messages })
    expect(m.status).toBe(429)
    expect(await m.json()).toEqual({ error: { type: 'rate_limit_reached_error', message: expect.any(String) } })
    // Used up: the next call succeeds.
    expect((await post(compat(), { model: 'qwen-plus', messages })).status).toBe(200)
  })

  it.each([
    [500, 'InternalError'],
    [503, 'ModelServingError'],
    [401, 'InvalidApiKey'],
    [400, 'InvalidParameter'],
  ])('defaults status %i to native code %s', async (status, code) => {
    emu.inject({ type: 'http_error', status })
    const res = await post(native(), { model: 'qwen-plus', input: { messages } })
    expect(res.status).toBe(status)
    expect((await res.json()).code).toBe(code)
  })

  it('uses a given code and message, and only on matching paths', async () => {
    emu.inject({ type: 'http_error', status: 429, code: 'Throttling.AllocationQuota', message: 'Allocated quota exceeded' }, { path: '/api/v1/' })
    expect((await post(compat(), { model: 'qwen-plus', messages })).status).toBe(200)
    const res = await post(native(), { model: 'qwen-plus', input: { messages } })
    expect(await res.json()).toMatchObject({ code: 'Throttling.AllocationQuota', message: 'Allocated quota exceeded' })
  })

  it('matches a RegExp path scope', async () => {
    emu.inject({ type: 'http_error', status: 500 }, { path: /\/tasks\//, times: 2 })
    expect((await post(native(), { model: 'qwen-plus', input: { messages } })).status).toBe(200)
    const task = await get(`${emu.url}/api/v1/tasks/abc`)
    expect(task.status).toBe(500)
  })
})

describe('timing and connection faults', () => {
  it('holds the whole response with slow_first_byte', async () => {
    emu.inject({ type: 'slow_first_byte', delayMs: 150 })
    const started = performance.now()
    const res = await post(compat(), { model: 'qwen-plus', messages })
    // A lower bound only: the emulator waited at least this long before the status line.
    expect(performance.now() - started).toBeGreaterThanOrEqual(140)
    expect(res.status).toBe(200)
  })

  it('resets the connection before any byte with connection_reset', async () => {
    emu.inject({ type: 'connection_reset' })
    await expect(post(compat(), { model: 'qwen-plus', messages })).rejects.toThrow()
    expect(emu.requests.at(-1)).toMatchObject({ path: '/compatible-mode/v1/chat/completions', aborted: true })
    expect((await post(compat(), { model: 'qwen-plus', messages })).status).toBe(200)
  })
})

describe('stream faults', () => {
  it('stalls after N data events, sending floor(delay/period) keep-alive comments, then finishes', async () => {
    emu.inject({ type: 'stall', afterChunks: 3, delayMs: 120, keepAliveEveryMs: 40 })
    const { text, error } = await readRaw(await compatStream())
    expect(error).toBeUndefined()
    const blocks = text.split('\n\n').slice(0, -1)
    const comments = blocks.map((b, i) => [b, i] as const).filter(([b]) => b === ': keep-alive')
    expect(comments.map(([, i]) => i)).toEqual([3, 4, 5])
    expect(blocks.at(-1)).toBe('data: [DONE]')
  })

  it('does not use a stream fault up on a non-stream request', async () => {
    emu.inject({ type: 'cut', afterChunks: 2 })
    expect((await post(compat(), { model: 'qwen-plus', messages })).status).toBe(200)
    const { error } = await readRaw(await compatStream())
    expect(error).toBeDefined()
  })

  it('cuts a compatible-mode stream after N events: no [DONE], the client sees a broken body', async () => {
    emu.inject({ type: 'cut', afterChunks: 4 })
    const res = await compatStream()
    expect(res.status).toBe(200)
    const { text, error } = await readRaw(res)
    expect(error).toBeDefined()
    const lines = dataLines(text)
    expect(lines).toHaveLength(4)
    expect(lines).not.toContain('[DONE]')
    expect(emu.requests.at(-1)!.aborted).toBe(true)
  })

  it('cuts a native stream after N events', async () => {
    emu.inject({ type: 'cut', afterChunks: 2 })
    const { text, error } = await readRaw(await nativeStream())
    expect(error).toBeDefined()
    const events = nativeEvents(text)
    expect(events).toHaveLength(2)
    expect(events.every((e) => JSON.parse(e.data).output.choices[0].finish_reason === 'null')).toBe(true)
  })

  it('sends one malformed event after N events, then carries on to [DONE]', async () => {
    emu.inject({ type: 'malformed_chunk', afterChunks: 2 })
    const { text } = await readRaw(await compatStream())
    const blocks = text.split('\n\n').slice(0, -1)
    expect(blocks[2]).toBe('data: {not json')
    expect(blocks.at(-1)).toBe('data: [DONE]')
  })

  it('frames a malformed native event like a real one', async () => {
    emu.inject({ type: 'malformed_chunk', afterChunks: 1 })
    const { text } = await readRaw(await nativeStream())
    expect(text.split('\n\n')[1]).toBe('id:2\nevent:result\n:HTTP_STATUS/200\ndata:{not json')
  })

  it('notices when the client goes away mid-stream', async () => {
    const slow = await startEmulator({ chunkDelayMs: 20 })
    try {
      const controller = new AbortController()
      const res = await send(`${slow.url}/compatible-mode/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer sk-x', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'qwen-plus', messages: [{ role: 'user', content: 'a long answer please' }], stream: true }),
        signal: controller.signal,
      })
      const reader = res.body!.getReader()
      await reader.read()
      controller.abort()
      await vi.waitFor(() => expect(slow.requests[0]!.aborted).toBe(true))
    } finally {
      await slow.close()
    }
  })
})

describe('content_filter fault', () => {
  it('refuses the input before streaming in each protocol', async () => {
    emu.inject({ type: 'content_filter' }, { times: 3 })
    const n = await nativeStream()
    expect(n.status).toBe(400)
    expect(await n.json()).toEqual({ code: 'DataInspectionFailed', message: 'Input data may contain inappropriate content.', request_id: expect.any(String) })
    const c = await compatStream()
    expect(c.status).toBe(400)
    expect((await c.json()).error).toMatchObject({ code: 'data_inspection_failed' })
    const m = await post(moonshot(), { model: 'moonshot-v1-8k', messages, stream: true })
    expect(m.status).toBe(400)
    expect((await m.json()).error.type).toBe('content_filter')
  })

  it('fails a native stream mid-way with an event:error', async () => {
    emu.inject({ type: 'content_filter', stage: 'output' })
    const events = nativeEvents((await readRaw(await nativeStream())).text)
    const last = events.at(-1)!
    expect(last).toMatchObject({ event: 'error', status: '400' })
    expect(JSON.parse(last.data)).toEqual({ code: 'DataInspectionFailed', message: 'Output data may contain inappropriate content.', request_id: expect.any(String) })
    expect(events.length).toBeGreaterThan(1)
  })

  it('fails a compatible-mode stream mid-way with a data error and no [DONE]', async () => {
    emu.inject({ type: 'content_filter', stage: 'output' })
    const lines = dataLines((await readRaw(await compatStream())).text)
    expect(lines).not.toContain('[DONE]')
    expect(JSON.parse(lines.at(-1)!).error).toMatchObject({ code: 'data_inspection_failed', message: 'Output data may contain inappropriate content.' })
  })

  it('refuses a non-stream answer with 400 at the output stage', async () => {
    emu.inject({ type: 'content_filter', stage: 'output' })
    const res = await post(moonshot(), { model: 'moonshot-v1-8k', messages })
    expect(res.status).toBe(400)
    expect((await res.json()).error.type).toBe('content_filter')
  })
})

describe('fault control over HTTP', () => {
  it('arms, scopes and clears faults and reports health', async () => {
    const health = await (await send(`${emu.url}/__emulator/health`)).json()
    expect(health).toMatchObject({ ok: true, url: emu.url, moonshotUrl: emu.moonshotUrl })
    expect(health.models).toContain('qwen-plus')

    const arm = await send(`${emu.url}/__emulator/faults`, { method: 'POST', body: JSON.stringify({ fault: { type: 'http_error', status: 503 }, times: 2, path: '/moonshot/' }) })
    expect(arm.status).toBe(200)
    expect((await post(compat(), { model: 'qwen-plus', messages })).status).toBe(200)
    expect((await post(moonshot(), { model: 'moonshot-v1-8k', messages })).status).toBe(503)

    const byPattern = await send(`${emu.url}/__emulator/faults`, { method: 'POST', body: JSON.stringify({ fault: { type: 'http_error', status: 500 }, pathPattern: 'generation$' }) })
    expect(byPattern.status).toBe(200)

    await send(`${emu.url}/__emulator/faults`, { method: 'DELETE' })
    expect((await post(moonshot(), { model: 'moonshot-v1-8k', messages })).status).toBe(200)
    expect((await post(native(), { model: 'qwen-plus', input: { messages } })).status).toBe(200)

    const bad = await send(`${emu.url}/__emulator/faults`, { method: 'POST', body: JSON.stringify({ fault: { type: 'meteor_strike' } }) })
    expect(bad.status).toBe(400)
  })
})

describe('raw_event fault', () => {
  it('writes the given bytes verbatim after N events, then finishes normally', async () => {
    const hostile = 'event: execute\ndata: {"choices":[{"delta":{"content":"<script>alert(1)</script>"}}],"extra":{"x":1}}\n\n'
    emu.inject({ type: 'raw_event', afterChunks: 1, raw: hostile })
    const { text } = await readRaw(await compatStream())
    const blocks = text.split('\n\n')
    expect(`${blocks[1]}\n\n`).toBe(hostile)
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true)
  })
})
