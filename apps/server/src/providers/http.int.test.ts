/**
 * Upstream resilience end to end: the real adapters against the emulator's scripted faults, and a
 * few hand-written servers for what the emulator does not do (redirects, endless streams).
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { inspect } from 'node:util'
import { Agent, type Dispatcher } from 'undici'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { ADAPTERS } from './adapters'
import { dashScopeAdapter } from './dashscope'
import { startEmulator, type Emulator } from './emulator'
import { runChat } from './fixtures/helpers'
import { requestJson } from './http'
import { moonshotAdapter } from './moonshot'
import { openAICompatibleAdapter } from './openai-compatible'
import { ProviderError, type ChatRequest, type UpstreamContext } from './types'

const KEY = 'sk-resilience-9f8e7d6c5b4a'
let emu: Emulator
let ctx: UpstreamContext

beforeAll(async () => {
  emu = await startEmulator({ chunkDelayMs: 2 })
  ctx = {
    baseUrl: emu.url,
    apiKey: KEY,
    timeouts: { firstByteMs: 2_000, idleMs: 2_000, totalMs: 20_000 },
    retry: { baseDelayMs: 5, maxDelayMs: 20, maxRetries: 2, maxTotalWaitMs: 5_000 },
  }
})
afterAll(async () => emu.close())
afterEach(() => emu.clearFaults())

const hello: ChatRequest = { model: 'qwen-plus', messages: [{ role: 'user', content: 'Tell me about bridges.' }] }
const CHAT = '/compatible-mode/v1/chat/completions'

/** Runs `fn` and returns how many upstream requests it made. */
async function counting<T>(fn: () => Promise<T>): Promise<{ result: T; requests: number }> {
  const before = emu.requests.length
  const result = await fn()
  return { result, requests: emu.requests.length - before }
}

describe('retries before the first byte', () => {
  it('honours Retry-After on a 429, then streams once', async () => {
    emu.inject({ type: 'http_error', status: 429, retryAfterSeconds: 1 }, { path: CHAT })
    const started = Date.now()
    const { result, requests } = await counting(() => runChat(dashScopeAdapter, hello, ctx))
    expect(result.error).toBeUndefined()
    expect(requests).toBe(2)
    // The retry waited at least the second the upstream asked for.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000)
    expect(result.events.filter((e) => e.type === 'start')).toHaveLength(1)
    expect(result.events.filter((e) => e.type === 'done')).toHaveLength(1)
  })

  it('does not count the Retry-After wait against the first-byte limit', async () => {
    emu.inject({ type: 'http_error', status: 503, retryAfterSeconds: 1 }, { path: CHAT })
    const { result, requests } = await counting(() => runChat(dashScopeAdapter, hello, { ...ctx, timeouts: { firstByteMs: 400 } }))
    expect(requests).toBe(2)
    expect(result.error).toBeUndefined()
  })

  it('fails fast on a Retry-After beyond the wait cap, without retrying', async () => {
    emu.inject({ type: 'http_error', status: 429, retryAfterSeconds: 120 }, { path: CHAT })
    const { result, requests } = await counting(() => runChat(dashScopeAdapter, hello, ctx))
    expect(requests).toBe(1)
    expect(result.error).toMatchObject({ kind: 'rate_limited', info: { status: 429, retryAfterMs: 120_000, upstreamCode: 'limit_requests' } })
    expect(result.events).toEqual([])
  })

  it('does not retry a 401', async () => {
    const { result, requests } = await counting(() => runChat(dashScopeAdapter, hello, { ...ctx, apiKey: 'sk-invalid-key-000' }))
    expect(requests).toBe(1)
    expect(result.error).toMatchObject({ kind: 'auth_failed', info: { status: 401 } })
  })

  it('retries a 500 and delivers one stream with one result', async () => {
    emu.inject({ type: 'http_error', status: 500 }, { path: CHAT })
    const { result, requests } = await counting(() => runChat(dashScopeAdapter, hello, ctx))
    expect(requests).toBe(2)
    expect(result.error).toBeUndefined()
    expect(result.events.filter((e) => e.type === 'start')).toHaveLength(1)
    expect(result.events.filter((e) => e.type === 'usage')).toHaveLength(1)
    const clean = await runChat(dashScopeAdapter, hello, ctx)
    expect(result.text).toBe(clean.text)
  })

  it('gives up on repeated 503s after maxRetries', async () => {
    emu.inject({ type: 'http_error', status: 503 }, { path: CHAT, times: 5 })
    const { result, requests } = await counting(() => runChat(dashScopeAdapter, hello, ctx))
    expect(requests).toBe(3)
    expect(result.error).toMatchObject({ kind: 'upstream_unavailable', info: { status: 503 } })
    expect(result.error?.info.afterFirstToken).toBeUndefined()
  })

  it('retries a connection reset', async () => {
    emu.inject({ type: 'connection_reset' }, { path: CHAT })
    const { result, requests } = await counting(() => runChat(dashScopeAdapter, hello, ctx))
    expect(requests).toBe(2)
    expect(result.error).toBeUndefined()
    expect(result.events.at(-1)).toEqual({ type: 'done', finishReason: 'stop' })
  })

  it('retries a non-streaming call and embeddings too', async () => {
    emu.inject({ type: 'http_error', status: 502 }, { path: '/compatible-mode/v1/embeddings' })
    const { result, requests } = await counting(() => dashScopeAdapter.embed!({ model: 'text-embedding-v3', input: ['a'] }, ctx))
    expect(requests).toBe(2)
    expect(result.vectors).toHaveLength(1)
  })
})

describe('timeouts', () => {
  it('times out a slow first byte and does not retry it', async () => {
    emu.inject({ type: 'slow_first_byte', delayMs: 3_000 }, { path: CHAT })
    const { result, requests } = await counting(() => runChat(dashScopeAdapter, hello, { ...ctx, timeouts: { firstByteMs: 150 } }))
    expect(requests).toBe(1)
    expect(result.error).toMatchObject({ kind: 'timeout' })
    expect(result.error?.message).toMatch(/first byte/)
  })

  it('times out an idle stream even while keep-alive comments arrive', async () => {
    emu.inject({ type: 'stall', afterChunks: 2, delayMs: 3_000, keepAliveEveryMs: 40 }, { path: CHAT })
    const { result, requests } = await counting(() => runChat(dashScopeAdapter, hello, { ...ctx, timeouts: { idleMs: 300 } }))
    expect(requests).toBe(1)
    expect(result.error).toMatchObject({ kind: 'timeout', info: { afterFirstToken: true } })
    expect(result.error?.message).toMatch(/idle/)
    expect(result.text.length).toBeGreaterThan(0)
  })

  it('survives a stall shorter than the idle limit', async () => {
    emu.inject({ type: 'stall', afterChunks: 2, delayMs: 200, keepAliveEveryMs: 40 }, { path: CHAT })
    const result = await runChat(dashScopeAdapter, hello, { ...ctx, timeouts: { idleMs: 1_500 } })
    expect(result.error).toBeUndefined()
  })
})

describe('broken streams', () => {
  it('reports a cut stream as upstream_unavailable after the first token, without retrying', async () => {
    emu.inject({ type: 'cut', afterChunks: 3 }, { path: CHAT })
    const { result, requests } = await counting(() => runChat(dashScopeAdapter, hello, ctx))
    expect(requests).toBe(1)
    expect(result.error).toMatchObject({ kind: 'upstream_unavailable', info: { afterFirstToken: true } })
    expect(result.events.some((e) => e.type === 'done')).toBe(false)
  })

  it('reports a malformed chunk as upstream_unavailable', async () => {
    emu.inject({ type: 'malformed_chunk', afterChunks: 2 }, { path: CHAT })
    const { result, requests } = await counting(() => runChat(dashScopeAdapter, hello, ctx))
    expect(requests).toBe(1)
    expect(result.error).toMatchObject({ kind: 'upstream_unavailable', info: { afterFirstToken: true } })
  })

  it('maps input moderation (before streaming) and output moderation (mid-stream)', async () => {
    emu.inject({ type: 'content_filter', stage: 'input' }, { path: CHAT })
    const input = await counting(() => runChat(dashScopeAdapter, hello, ctx))
    expect(input.requests).toBe(1)
    expect(input.result.error).toMatchObject({ kind: 'content_filtered', info: { status: 400 } })
    emu.inject({ type: 'content_filter', stage: 'output' }, { path: CHAT })
    const output = await runChat(dashScopeAdapter, hello, ctx)
    expect(output.error).toMatchObject({ kind: 'content_filtered', info: { afterFirstToken: true } })
    expect(output.text.length).toBeGreaterThan(0)
  })
})

describe('cancellation', () => {
  it('stops promptly and closes the upstream socket when the caller aborts', async () => {
    const controller = new AbortController()
    const slow = await startEmulator({ chunkDelayMs: 200 })
    try {
      const seen: string[] = []
      const run = (async () => {
        for await (const ev of dashScopeAdapter.chat(hello, { ...ctx, baseUrl: slow.url, signal: controller.signal })) {
          seen.push(ev.type)
          if (ev.type === 'text') controller.abort()
        }
      })()
      await expect(run).rejects.toMatchObject({ name: 'AbortError' })
      expect(seen).toContain('text')
      expect(seen).not.toContain('done')
      await vi.waitFor(() => expect(slow.requests.at(-1)!.aborted).toBe(true))
    } finally {
      await slow.close()
    }
  })

  it('stops every call made under one signal, including those that started after an earlier one finished', async () => {
    // /v1 hands out one signal per client connection: calls made under it one after another and
    // side by side must all hear its abort.
    const controller = new AbortController()
    const slow = await startEmulator({ chunkDelayMs: 200 })
    try {
      const first = await runChat(dashScopeAdapter, { ...hello, stream: false }, { ...ctx, signal: controller.signal })
      expect(first.error).toBeUndefined()
      const streams = [0, 1].map(async () => {
        const seen: string[] = []
        try {
          for await (const ev of dashScopeAdapter.chat(hello, { ...ctx, baseUrl: slow.url, signal: controller.signal })) seen.push(ev.type)
        } catch (err) {
          return { seen, err }
        }
        return { seen, err: undefined }
      })
      await vi.waitFor(() => expect(slow.requests.filter((r) => r.path === CHAT)).toHaveLength(2))
      controller.abort()
      for (const { seen, err } of await Promise.all(streams)) {
        expect(err).toMatchObject({ name: 'AbortError' })
        expect(seen).not.toContain('done')
      }
      await vi.waitFor(() => expect(slow.requests.every((r) => r.aborted)).toBe(true))
    } finally {
      await slow.close()
    }
  })

  it('aborts a retry wait', async () => {
    emu.inject({ type: 'http_error', status: 429, retryAfterSeconds: 4 }, { path: CHAT })
    const controller = new AbortController()
    const run = runChat(dashScopeAdapter, hello, { ...ctx, signal: controller.signal })
    await vi.waitFor(() => expect(emu.requests.at(-1)!.status).toBe(429))
    controller.abort()
    await expect(run).rejects.toMatchObject({ name: 'AbortError' })
  })

  it('refuses to start with an already aborted signal', async () => {
    const { result, requests } = await counting(async () => {
      try {
        return await runChat(dashScopeAdapter, hello, { ...ctx, signal: AbortSignal.abort() })
      } catch (err) {
        return err
      }
    })
    expect(requests).toBe(0)
    expect(result).toMatchObject({ name: 'AbortError' })
  })
})

describe('Moonshot and the plain OpenAI-compatible provider under faults', () => {
  it('Moonshot: 429 engine overload is retried, 401 is not, quota is not', async () => {
    const m = { ...ctx, baseUrl: emu.moonshotUrl }
    const kimi: ChatRequest = { model: 'moonshot-v1-8k', messages: [{ role: 'user', content: '你好' }] }
    emu.inject({ type: 'http_error', status: 429, code: 'engine_overloaded_error' }, { path: '/moonshot/v1/chat/completions' })
    const overloaded = await counting(() => runChat(moonshotAdapter, kimi, m))
    expect(overloaded.requests).toBe(2)
    expect(overloaded.result.error).toBeUndefined()
    const bad = await counting(() => runChat(moonshotAdapter, kimi, { ...m, apiKey: 'sk-invalid-kimi' }))
    expect(bad.requests).toBe(1)
    expect(bad.result.error).toMatchObject({ kind: 'auth_failed', info: { status: 401, upstreamCode: 'invalid_authentication_error' } })
    emu.inject({ type: 'http_error', status: 429, code: 'exceeded_current_quota_error', message: 'Your account is suspended' }, { path: '/moonshot/v1/chat/completions' })
    const quota = await counting(() => runChat(moonshotAdapter, kimi, m))
    expect(quota.requests).toBe(1)
    expect(quota.result.error?.kind).toBe('quota_exceeded')
  })

  it('OpenAI-compatible: reset then success; cut after tokens is final', async () => {
    const o = { ...ctx, baseUrl: `${emu.url}/compatible-mode/v1` }
    emu.inject({ type: 'connection_reset' }, { path: CHAT })
    const reset = await counting(() => runChat(openAICompatibleAdapter, hello, o))
    expect(reset.requests).toBe(2)
    expect(reset.result.error).toBeUndefined()
    emu.inject({ type: 'cut', afterChunks: 2 }, { path: CHAT })
    const cut = await counting(() => runChat(openAICompatibleAdapter, hello, o))
    expect(cut.requests).toBe(1)
    expect(cut.result.error).toMatchObject({ kind: 'upstream_unavailable', info: { afterFirstToken: true } })
  })
})

describe('the provider key never leaks into errors (SECURITY J3)', () => {
  const SECRET = 'sk-invalid-SECRET-7c0ffee5eed'

  function assertClean(err: unknown, secret: string): void {
    expect(err).toBeInstanceOf(ProviderError)
    const e = err as ProviderError
    const views = [e.message, e.stack ?? '', JSON.stringify(e), JSON.stringify(e.info), inspect(e, { depth: 20, showHidden: true }), inspect(e.cause, { depth: 20 }), String(e)]
    for (const v of views) expect(v).not.toContain(secret)
    // Not even its distinctive tail.
    for (const v of views) expect(v).not.toContain(secret.slice(-12))
  }

  it('keeps the key out of 401, 429, 500, reset, timeout and cut errors for every adapter', async () => {
    const failures: unknown[] = []
    const grab = async (adapter: keyof typeof ADAPTERS, c: UpstreamContext, model = 'qwen-plus'): Promise<void> => {
      const out = await runChat(ADAPTERS[adapter], { ...hello, model }, c)
      failures.push(out.error)
    }
    const base = { ...ctx, apiKey: SECRET }
    await grab('dashscope', base)
    await grab('dashscope', { ...base, options: { nativeChat: true } })
    await grab('moonshot', { ...base, baseUrl: emu.moonshotUrl }, 'moonshot-v1-8k')
    await grab('openai-compatible', { ...base, baseUrl: `${emu.url}/compatible-mode/v1` })
    const valid = { ...ctx, apiKey: 'sk-valid-SECRET-abcdef123456' }
    emu.inject({ type: 'http_error', status: 429, retryAfterSeconds: 120 }, { path: CHAT })
    await grab('dashscope', valid)
    emu.inject({ type: 'http_error', status: 500 }, { path: CHAT, times: 3 })
    await grab('dashscope', valid)
    emu.inject({ type: 'connection_reset' }, { path: CHAT, times: 3 })
    await grab('dashscope', valid)
    emu.inject({ type: 'slow_first_byte', delayMs: 2_000 }, { path: CHAT })
    await grab('dashscope', { ...valid, timeouts: { firstByteMs: 100 } })
    emu.inject({ type: 'cut', afterChunks: 2 }, { path: CHAT })
    await grab('dashscope', valid)
    let imageError: unknown
    try {
      await ADAPTERS.dashscope.createImageTask!({ model: 'wanx-v1', prompt: 'x' }, base)
    } catch (err) {
      imageError = err
    }
    failures.push(imageError)
    expect(failures).toHaveLength(10)
    for (const [i, err] of failures.entries()) assertClean(err, i < 4 || i === 9 ? SECRET : valid.apiKey)
  })

  it('scrubs a key that an upstream echoes back in its error message', async () => {
    const echo = await listen((req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' })
      const auth = req.headers.authorization ?? ''
      const key = auth.replace('Bearer ', '')
      res.end(JSON.stringify({ error: { message: `Incorrect API key provided: ${key} (or ${key.slice(0, 6)}****${key.slice(-4)})`, type: 'invalid_request_error', code: 'invalid_api_key' } }))
    })
    try {
      const out = await runChat(openAICompatibleAdapter, hello, { ...ctx, baseUrl: `${echo.url}/v1`, apiKey: 'sk-echo-SECRET-0a1b2c3d4e5f' })
      expect(out.error?.kind).toBe('auth_failed')
      expect(out.error?.message).toContain('[redacted]')
      assertClean(out.error, 'sk-echo-SECRET-0a1b2c3d4e5f')
      expect(out.error?.message).not.toContain('3d4e5f')
    } finally {
      await echo.close()
    }
  })

  it('refuses a key with a line break without echoing it', async () => {
    const out = await runChat(dashScopeAdapter, hello, { ...ctx, apiKey: 'sk-abc\r\nX-Evil: 1' })
    expect(out.error?.kind).toBe('auth_failed')
    expect(out.error?.message).not.toContain('sk-abc')
  })
})

interface Local {
  url: string
  hits: () => number
  close: () => Promise<void>
}

async function listen(handler: Parameters<typeof createServer>[1]): Promise<Local> {
  let hits = 0
  const server: Server = createServer((req, res) => {
    hits++
    handler!(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    hits: () => hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

describe('transport rules', () => {
  it('does not follow a redirect, so the key never reaches the redirect target (SECURITY F3)', async () => {
    const target = await listen((_req, res) => res.end('{}'))
    const redirector = await listen((_req, res) => {
      res.writeHead(302, { location: `${target.url}/v1/chat/completions` })
      res.end()
    })
    try {
      const out = await runChat(openAICompatibleAdapter, hello, { ...ctx, baseUrl: `${redirector.url}/v1` })
      expect(out.error).toMatchObject({ kind: 'upstream_unavailable', info: { status: 302 } })
      expect(redirector.hits()).toBe(1)
      expect(target.hits()).toBe(0)
    } finally {
      await Promise.all([target.close(), redirector.close()])
    }
  })

  it('sends every request through the dispatcher it is given', async () => {
    const dispatched: string[] = []
    const inner = new Agent()
    // A dispatcher that records and forwards, standing in for the SSRF-guarded one.
    const recording = {
      dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
        dispatched.push(`${String(opts.origin)}${opts.path}`)
        return inner.dispatch(opts, handler)
      },
    } as unknown as Dispatcher
    try {
      const out = await runChat(dashScopeAdapter, hello, { ...ctx, dispatcher: recording })
      expect(out.error).toBeUndefined()
      expect(dispatched).toEqual([`${emu.url}${CHAT}`])
    } finally {
      await inner.close()
    }
  })

  it('surfaces a dispatcher refusal as an error and never goes around it', async () => {
    const refusing = new Agent({
      connect: (_opts, cb) => {
        const err = Object.assign(new Error('Address not allowed'), { code: 'ERR_ADDRESS_NOT_ALLOWED' })
        cb(err, null)
      },
    })
    try {
      const { result, requests } = await counting(() => runChat(dashScopeAdapter, hello, { ...ctx, dispatcher: refusing }))
      expect(requests).toBe(0)
      expect(result.error?.kind).toBe('upstream_unavailable')
    } finally {
      await refusing.close()
    }
  })

  it('enforces the total limit on a stream that never ends', async () => {
    const endless = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      const head = { id: 'chatcmpl-endless', model: 'm' }
      const timer = setInterval(() => res.write(`data: ${JSON.stringify({ ...head, choices: [{ index: 0, delta: { content: 'x' } }] })}\n\n`), 20)
      res.on('close', () => clearInterval(timer))
    })
    try {
      const out = await runChat(openAICompatibleAdapter, hello, { ...ctx, baseUrl: endless.url, timeouts: { totalMs: 400, idleMs: 1_000 } })
      expect(out.error).toMatchObject({ kind: 'timeout', info: { afterFirstToken: true } })
      expect(out.error?.message).toMatch(/total/)
    } finally {
      await endless.close()
    }
  })

  it('reads a JSON error answered at 200 to a stream request', async () => {
    const server = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { message: 'Rate limit reached', type: 'rate_limit_exceeded' } }))
    })
    try {
      const out = await runChat(openAICompatibleAdapter, hello, { ...ctx, baseUrl: server.url })
      expect(out.error?.kind).toBe('rate_limited')
    } finally {
      await server.close()
    }
  })

  it('pauses the upstream while the reader is behind (back-pressure), then delivers every event', async () => {
    // 4,000 events of ~10 KB, written as fast as the socket takes them. While the reader stalls
    // after its first event, only what fits in our small buffer and the kernel's socket buffers
    // (a few MB on loopback) may leave the server: without back-pressure all 40 MB would.
    const event = `data: ${JSON.stringify({ id: 'c', model: 'm', choices: [{ index: 0, delta: { content: 'x'.repeat(10_000) } }] })}\n\n`
    let written = 0
    let writtenAtStall = -1
    const server = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      let n = 0
      const pump = (): void => {
        while (n < 4_000) {
          n++
          written += event.length
          if (!res.write(event)) {
            res.once('drain', pump)
            return
          }
        }
        res.end(`data: ${JSON.stringify({ id: 'c', model: 'm', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\ndata: [DONE]\n\n`)
      }
      pump()
    })
    try {
      let texts = 0
      for await (const ev of openAICompatibleAdapter.chat(hello, { ...ctx, baseUrl: server.url })) {
        if (ev.type !== 'text') continue
        texts++
        if (texts === 1) {
          await new Promise((r) => setTimeout(r, 300))
          writtenAtStall = written
        }
      }
      expect(texts).toBe(4_000)
      expect(writtenAtStall).toBeGreaterThan(0)
      expect(writtenAtStall).toBeLessThan(written / 2)
    } finally {
      await server.close()
    }
  })

  it('fails a call stopped while it waits for a connection at once, without sending it', async () => {
    // One connection, held by a stream that never ends: the second call queues behind it.
    const hold = await listen((req, res) => {
      if (req.url?.includes('second')) {
        res.end('{}')
        return
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write(': open\n\n')
    })
    const single = new Agent({ connections: 1 })
    const first = new AbortController()
    const second = new AbortController()
    try {
      const mapError = () => new ProviderError('upstream_unavailable', 'x')
      const holding = requestJson({ method: 'GET', url: `${hold.url}/first`, mapError }, { ...ctx, baseUrl: hold.url, dispatcher: single, signal: first.signal }).catch((err: unknown) => err)
      await vi.waitFor(() => expect(hold.hits()).toBe(1))
      const queued = requestJson({ method: 'GET', url: `${hold.url}/second`, mapError }, { ...ctx, baseUrl: hold.url, dispatcher: single, signal: second.signal })
      second.abort()
      await expect(queued).rejects.toMatchObject({ name: 'AbortError' })
      first.abort()
      expect(await holding).toMatchObject({ name: 'AbortError' })
      // The queued call never reached the server, not even once the connection was free.
      await new Promise((r) => setTimeout(r, 100))
      expect(hold.hits()).toBe(1)
    } finally {
      await single.close()
      await hold.close()
    }
  })

  it('reads only the start of a huge error body and keeps the connection pool working', async () => {
    let calls = 0
    const server = await listen((_req, res) => {
      calls++
      if (calls === 1) {
        res.writeHead(400, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ error: { message: `bad ${'y'.repeat(2_000_000)}`, type: 'invalid_request_error' } }))
        return
      }
      res.end('{"ok":true}')
    })
    const single = new Agent({ connections: 1 })
    try {
      const mapError = (f: { status: number; body: string }) => new ProviderError('bad_request', `status ${f.status}, ${f.body.length} characters`)
      const first = await requestJson({ method: 'GET', url: `${server.url}/a`, mapError }, { ...ctx, baseUrl: server.url, dispatcher: single }).catch((err: ProviderError) => err)
      expect(first).toMatchObject({ kind: 'bad_request', info: { status: 400 } })
      expect((first as ProviderError).message).toBe(`status 400, ${64 * 1024} characters`)
      const second = await requestJson({ method: 'GET', url: `${server.url}/b`, mapError }, { ...ctx, baseUrl: server.url, dispatcher: single })
      expect(second.json).toEqual({ ok: true })
    } finally {
      await single.close()
      await server.close()
    }
  })

  it('reports a JSON answer cut mid-body, a body that stalls past the idle limit, and malformed JSON', async () => {
    const server = await listen((req, res) => {
      const half = '{"id":"chatcmpl-1","choices":[{"index":0,"message":{"role":"assistant","content":"hal'
      if (req.url === '/cut') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(half.length * 2) })
        res.write(half)
        setTimeout(() => res.socket?.destroy(), 20)
      } else if (req.url === '/stall') {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.write(half)
      } else {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(half)
      }
    })
    try {
      const mapError = () => new ProviderError('bad_request', 'x')
      const get = (path: string) =>
        requestJson({ method: 'GET', url: `${server.url}${path}`, mapError }, { ...ctx, baseUrl: server.url, timeouts: { firstByteMs: 2_000, idleMs: 150, totalMs: 5_000 } }).catch((err: unknown) => err)
      const [cut, stall, malformed] = await Promise.all([get('/cut'), get('/stall'), get('/malformed')])
      expect(cut).toMatchObject({ kind: 'upstream_unavailable', message: expect.stringMatching(/broke off/) as unknown })
      expect(stall).toMatchObject({ kind: 'timeout', message: 'Upstream idle timeout' })
      expect(malformed).toMatchObject({ kind: 'upstream_unavailable', message: 'Upstream sent malformed JSON' })
      // None of them is retried: the upstream had answered.
      expect(server.hits()).toBe(3)
    } finally {
      await server.close()
    }
  })

  it('honours a Retry-After given as an HTTP date', async () => {
    let calls = 0
    const server = await listen((_req, res) => {
      calls++
      if (calls === 1) {
        res.writeHead(503, { 'retry-after': new Date(Date.now() + 60_000).toUTCString(), 'content-type': 'application/json' })
        res.end('{"error":{"message":"busy","type":"server_error"}}')
        return
      }
      res.end('{}')
    })
    try {
      const { json } = await requestJson({ method: 'GET', url: `${server.url}/x`, mapError: () => new ProviderError('upstream_unavailable', 'busy') }, { ...ctx, baseUrl: server.url }).catch((err: ProviderError) => ({ json: err }))
      // A date a minute away is past the 5 s cap: one call, and the wait is reported, not done.
      expect(calls).toBe(1)
      expect(json).toMatchObject({ kind: 'upstream_unavailable', info: { status: 503 } })
      expect((json as ProviderError).info.retryAfterMs).toBeGreaterThan(50_000)
    } finally {
      await server.close()
    }
  })
})
