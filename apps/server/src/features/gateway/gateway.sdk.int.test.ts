import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import OpenAI, { type APIError } from 'openai'
import { PNG } from 'pngjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bearer } from '../auth/testing'
import { bearerOf } from '../providers/testing'
import { EMBEDDING_MODEL, IMAGE_MODEL, startGatewayHarness, type GatewayHarness } from './testing'

/**
 * The official `openai` package against a running Qiao (/v1) with the emulator upstream: what an
 * API user experiences, and the security cases of the gateway (SECURITY C2, C7, F2, A6, J4).
 */

let h: GatewayHarness

beforeAll(async () => {
  h = await startGatewayHarness('sqlite')
})
afterAll(async () => {
  await h?.close()
})

// Usage rows and charges of /v1 calls are written in batches (billing/leases.ts): settle first.
const apiCalls = async (userId: string) => {
  await h.settle()
  return h.t.deps.db.kysely.selectFrom('apiCalls').selectAll().where('userId', '=', userId).orderBy('id').execute()
}
const balanceOf = async (userId: string) => {
  await h.settle()
  return (await h.t.app.services.billing.getBalance(userId)).balance
}

describe('the openai SDK against /v1', () => {
  it('chat without streaming: an OpenAI completion, one api_calls row (source api, the key), billed to the owner', async () => {
    const alice = await h.account()
    const { key, secret } = await h.createKey(alice)
    const before = await balanceOf(alice.user.id)
    const completion = await h.client(secret).chat.completions.create({ model: 'qwen-plus', messages: [{ role: 'user', content: 'Hello bridge' }] })
    expect(completion.object).toBe('chat.completion')
    expect(completion.id).toMatch(/^chatcmpl-/)
    expect(completion.model).toBe('qwen-plus')
    expect(completion.choices[0]!.message.role).toBe('assistant')
    expect(completion.choices[0]!.message.content).toContain('Hello bridge')
    expect(completion.choices[0]!.finish_reason).toBe('stop')
    const usage = completion.usage!
    expect(usage.prompt_tokens).toBeGreaterThan(0)
    expect(usage.completion_tokens).toBeGreaterThan(0)
    expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens)

    const rows = await apiCalls(alice.user.id)
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({ source: 'api', apiKeyId: key.id, endpoint: 'chat', status: 'ok', model: 'qwen-plus', promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens })
    expect(Number(rows[0]!.cost)).toBeGreaterThan(0)
    expect(before - (await balanceOf(alice.user.id))).toBe(Number(rows[0]!.cost))
    // No hold is left behind once the lease is returned (a leaked hold would keep it).
    const funds = await h.t.app.services.billing.getBalance(alice.user.id)
    expect(funds.reserved).toBe(0)
  })

  it('chat streaming with include_usage: chunks in order, a usage chunk, the same text as without streaming', async () => {
    const bob = await h.account()
    const { secret } = await h.createKey(bob)
    const client = h.client(secret)
    const messages = [{ role: 'user' as const, content: 'Tell me something long about bridges' }]
    const stream = await client.chat.completions.create({ model: 'qwen-plus', messages, stream: true, stream_options: { include_usage: true } })
    let text = ''
    let finish: string | null = null
    let usage: OpenAI.CompletionUsage | undefined
    let chunks = 0
    const ids = new Set<string>()
    for await (const chunk of stream) {
      chunks++
      ids.add(chunk.id)
      expect(chunk.object).toBe('chat.completion.chunk')
      if (chunk.usage) usage = chunk.usage
      for (const choice of chunk.choices) {
        text += choice.delta.content ?? ''
        finish = choice.finish_reason ?? finish
      }
    }
    expect(chunks).toBeGreaterThan(10)
    expect(ids.size).toBe(1)
    expect(finish).toBe('stop')
    expect(usage!.completion_tokens).toBeGreaterThan(0)
    const plain = await client.chat.completions.create({ model: 'qwen-plus', messages })
    expect(text).toBe(plain.choices[0]!.message.content)
    const rows = await apiCalls(bob.user.id)
    expect(rows.map((r) => r.status)).toEqual(['ok', 'ok'])
    expect(rows[0]!.completionTokens).toBe(usage!.completion_tokens)
  })

  it('relays reasoning for thinking models as reasoning_content', async () => {
    const carol = await h.account()
    const { secret } = await h.createKey(carol)
    const res = await h.client(secret).chat.completions.create({
      model: 'qwen-plus',
      messages: [{ role: 'user', content: 'Think first' }],
      // DashScope's switch; the SDK passes unknown body fields through.
      ...({ enable_thinking: true } as object),
    })
    const message = res.choices[0]!.message as OpenAI.ChatCompletionMessage & { reasoning_content?: string }
    expect(message.reasoning_content?.length).toBeGreaterThan(0)
    expect(res.usage!.completion_tokens_details?.reasoning_tokens).toBeGreaterThan(0)
  })

  it('lists models, and a restricted key sees only its own', async () => {
    const dan = await h.account()
    const all = await h.client((await h.createKey(dan)).secret).models.list()
    const ids = all.data.map((m) => m.id)
    expect(ids).toEqual(expect.arrayContaining(['qwen-plus', 'qwen-max', IMAGE_MODEL, EMBEDDING_MODEL]))
    expect(all.data[0]).toMatchObject({ object: 'model', owned_by: 'dashscope' })
    const restricted = h.client((await h.createKey(dan, { allowedModels: ['qwen-max'] })).secret)
    expect((await restricted.models.list()).data.map((m) => m.id)).toEqual(['qwen-max'])
    expect((await restricted.models.retrieve('qwen-max')).id).toBe('qwen-max')
    await expect(restricted.models.retrieve('qwen-plus')).rejects.toBeInstanceOf(OpenAI.NotFoundError)
  })

  it('embeddings: the SDK default (base64) and floats decode to the same unit vectors, billed by input tokens', async () => {
    const erin = await h.account()
    const client = h.client((await h.createKey(erin)).secret)
    const input = ['桥连接两岸', 'a bridge joins two banks', 'third']
    const viaBase64 = await client.embeddings.create({ model: EMBEDDING_MODEL, input })
    const viaFloat = await client.embeddings.create({ model: EMBEDDING_MODEL, input, encoding_format: 'float' })
    expect(viaBase64.data).toHaveLength(3)
    expect(viaBase64.data[1]!.embedding).toHaveLength(1024)
    const norm = Math.hypot(...viaFloat.data[0]!.embedding)
    expect(norm).toBeCloseTo(1, 3)
    viaFloat.data.forEach((d, i) => d.embedding.forEach((x, j) => expect(viaBase64.data[i]!.embedding[j]).toBeCloseTo(x, 5)))
    expect(viaFloat.usage.prompt_tokens).toBeGreaterThan(0)
    const rows = await apiCalls(erin.user.id)
    expect(rows.map((r) => [r.endpoint, r.status, r.promptTokens])).toEqual([
      ['embeddings', 'ok', viaBase64.usage.prompt_tokens],
      ['embeddings', 'ok', viaFloat.usage.prompt_tokens],
    ])
    expect(Number(rows[0]!.cost)).toBeGreaterThan(0)
  })

  it('images: waits for the Wanx task, serves the copy from Qiao (url) or inline (b64_json), bills per image', async () => {
    const fay = await h.account()
    const client = h.client((await h.createKey(fay)).secret)
    const before = await balanceOf(fay.user.id)
    const res = await client.images.generate({ model: IMAGE_MODEL, prompt: 'a stone bridge at dawn', size: '1024x1024', n: 1 })
    expect(res.data).toHaveLength(1)
    const url = new URL(res.data![0]!.url!)
    expect(url.pathname).toMatch(/^\/v1\/images\/files\//)
    // The URL is signed: it opens without a key (as in a browser), from Qiao, not the upstream.
    const img = await fetch(`${h.origin}${url.pathname}${url.search}`)
    expect(img.status).toBe(200)
    expect(img.headers.get('content-type')).toBe('image/png')
    const png = PNG.sync.read(Buffer.from(await img.arrayBuffer()))
    expect(png.width).toBe(1024)
    // A tampered signature is refused.
    const forged = new URL(`${h.origin}${url.pathname}${url.search}`)
    forged.searchParams.set('exp', String(Number(forged.searchParams.get('exp')) + 3600))
    expect((await fetch(forged)).status).toBe(404)
    forged.searchParams.set('owner', fay.user.id === 'x' ? 'y' : (await h.account()).user.id)
    expect((await fetch(forged)).status).toBe(404)

    const inline = await client.images.generate({ model: IMAGE_MODEL, prompt: 'a rope bridge', size: '512x512', response_format: 'b64_json' })
    expect(PNG.sync.read(Buffer.from(inline.data![0]!.b64_json!, 'base64')).width).toBe(512)

    const rows = await apiCalls(fay.user.id)
    expect(rows.map((r) => [r.endpoint, r.status, r.images])).toEqual([
      ['images', 'ok', 1],
      ['images', 'ok', 1],
    ])
    const perImage = (await h.t.app.services.providers.getModel(IMAGE_MODEL)).prices.perImage!
    expect(rows.every((r) => Number(r.cost) === perImage)).toBe(true)
    expect(before - (await balanceOf(fay.user.id))).toBe(2 * perImage)
  })

  it('passes tools through and answers tool calls in the OpenAI shape', async () => {
    const gus = await h.account()
    const res = await h.client((await h.createKey(gus)).secret).chat.completions.create({
      model: 'qwen-plus',
      messages: [{ role: 'user', content: 'What is the weather in Hangzhou?' }],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
    })
    const upstream = h.emu.requests.filter((r) => r.path.endsWith('/chat/completions')).at(-1)!
    expect((JSON.parse(upstream.body) as { tools?: unknown[] }).tools).toHaveLength(1)
    expect(res.choices[0]!.finish_reason).toMatch(/stop|tool_calls/)
  })
})

describe('errors in OpenAI shape, as the SDK raises them', () => {
  it('a bad key → AuthenticationError 401 invalid_api_key', async () => {
    const err = await h.client('sk-qiao-AAAAAAAAbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb').models.list().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError)
    expect((err as APIError).code).toBe('invalid_api_key')
    expect((err as APIError).type).toBe('invalid_request_error')
  })

  it('J4: an unknown key and a known prefix with a wrong secret get the same answer', async () => {
    const hal = await h.account()
    const { secret } = await h.createKey(hal)
    const wrong = `${secret.slice(0, 16)}${'x'.repeat(secret.length - 16)}`
    const unknown = `sk-qiao-zzzzzzzz${'x'.repeat(secret.length - 16)}`
    const answers = await Promise.all(
      [wrong, unknown].map(async (k) => {
        const res = await fetch(`${h.baseURL}/models`, { headers: { authorization: `Bearer ${k}` } })
        return { status: res.status, body: await res.json() }
      }),
    )
    expect(answers[0]!.status).toBe(401)
    expect(answers[0]).toEqual(answers[1])
  })

  it('C7: a revoked key → 401 on its next use, at once', async () => {
    const ivy = await h.account()
    const { key, secret } = await h.createKey(ivy)
    const client = h.client(secret)
    await client.models.list()
    const del = await h.t.inject({ method: 'DELETE', url: `/api/keys/${key.id}`, headers: bearer(ivy.accessToken) })
    expect(del.statusCode).toBe(204)
    const err = await client.models.list().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError)
    expect((err as APIError).message).toMatch(/revoked/)
  })

  it('C7: a model the key may not use → PermissionDeniedError 403, no upstream call, no money held', async () => {
    const jon = await h.account()
    const client = h.client((await h.createKey(jon, { allowedModels: ['qwen-max'] })).secret)
    const calls = h.emu.requests.length
    const err = await client.chat.completions.create({ model: 'qwen-plus', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError)
    expect((err as APIError).code).toBe('model_not_allowed')
    expect(h.emu.requests.length).toBe(calls)
    expect(await apiCalls(jon.user.id)).toHaveLength(0)
    // The allowed one works with the same key.
    expect((await client.chat.completions.create({ model: 'qwen-max', messages: [{ role: 'user', content: 'hi' }] })).choices).toHaveLength(1)
  })

  it('an unknown model → NotFoundError 404 model_not_found', async () => {
    const kim = await h.account()
    const err = await h.client((await h.createKey(kim)).secret).chat.completions.create({ model: 'gpt-9', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.NotFoundError)
    expect((err as APIError).code).toBe('model_not_found')
  })

  it('an exhausted balance → 429 insufficient_quota that the SDK does not retry; no upstream call', async () => {
    const lea = await h.account()
    await h.setBalance(lea.user.id, 0)
    // With retries on, a retried 429 would show up as a second request.
    const client = new OpenAI({ apiKey: (await h.createKey(lea)).secret, baseURL: h.baseURL, maxRetries: 2 })
    const calls = h.emu.requests.length
    const err = await client.chat.completions.create({ model: 'qwen-plus', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.RateLimitError)
    expect((err as APIError).code).toBe('insufficient_quota')
    expect((err as APIError).headers?.get('x-should-retry')).toBe('false')
    expect(h.emu.requests.length).toBe(calls)
    expect(await apiCalls(lea.user.id)).toHaveLength(0)
  })

  it("a key's monthly limit, once spent → 429 insufficient_quota", async () => {
    const max = await h.account()
    const client = h.client((await h.createKey(max, { monthlyLimit: 1 })).secret)
    await client.chat.completions.create({ model: 'qwen-plus', messages: [{ role: 'user', content: 'hi' }] })
    const err = await client.chat.completions.create({ model: 'qwen-plus', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.RateLimitError)
    expect((err as APIError).message).toMatch(/monthly/)
  })

  it('a validation error → BadRequestError 400 naming the parameter', async () => {
    const ned = await h.account()
    const err = await h.client((await h.createKey(ned)).secret).chat.completions.create({ model: 'qwen-plus', messages: [{ role: 'user', content: 'hi' }], temperature: 7 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.BadRequestError)
    expect((err as APIError).param).toBe('temperature')
    expect((err as APIError).type).toBe('invalid_request_error')
  })

  it('the x-api-key header works like Bearer', async () => {
    const ola = await h.account()
    const { secret } = await h.createKey(ola)
    const res = await fetch(`${h.baseURL}/models`, { headers: { 'x-api-key': secret } })
    expect(res.status).toBe(200)
  })

  it('C7: a key in the query string is refused with a clear 401, even a valid one', async () => {
    const pam = await h.account()
    const { secret } = await h.createKey(pam)
    for (const name of ['key', 'api_key']) {
      const res = await fetch(`${h.baseURL}/models?${name}=${secret}`)
      expect(res.status).toBe(401)
      const body = (await res.json()) as { error: { message: string; code: string } }
      expect(body.error.code).toBe('invalid_api_key')
      expect(body.error.message).toMatch(/URL/)
    }
    // Not even together with a valid header: the key must not travel in URLs at all.
    expect((await fetch(`${h.baseURL}/models?key=${secret}`, { headers: { authorization: `Bearer ${secret}` } })).status).toBe(401)
  })

  it("A6: a disabled user's key → 401 at once, though it was just used (and cached)", async () => {
    const admin = await h.account()
    await h.t.deps.db.kysely.updateTable('users').set({ role: 'admin' }).where('id', '=', admin.user.id).execute()
    const quinn = await h.account()
    const client = h.client((await h.createKey(quinn)).secret)
    await client.models.list()
    const res = await h.t.inject({ method: 'PATCH', url: `/api/admin/users/${quinn.user.id}`, headers: bearer(admin.accessToken), payload: { status: 'disabled' } })
    expect(res.statusCode).toBe(200)
    await expect(client.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError)
  })

  it('C2: /v1 is stateless — another user\'s conversation id in the body is ignored; nothing is appended to it', async () => {
    const rob = await h.account()
    const sue = await h.account()
    const convo = await h.t.inject({ method: 'POST', url: '/api/conversations', headers: bearer(rob.accessToken), payload: { title: 'private' } })
    const conversationId = convo.json<{ id: string }>().id
    await h.client((await h.createKey(sue)).secret).chat.completions.create({
      model: 'qwen-plus',
      messages: [{ role: 'user', content: 'append me' }],
      ...({ conversation_id: conversationId, conversationId } as object),
    })
    const messages = await h.t.deps.db.kysely.selectFrom('messages').select('id').where('conversationId', '=', conversationId).execute()
    expect(messages).toHaveLength(0)
    expect((await apiCalls(rob.user.id)).length).toBe(0)
  })
})

describe('F2: a request can never choose the upstream host', () => {
  let capture: Server
  let captured: IncomingMessage[]
  let captureUrl: string

  beforeAll(async () => {
    captured = []
    capture = createServer((req, res) => {
      captured.push(req)
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
    await new Promise<void>((r) => capture.listen(0, '127.0.0.1', r))
    captureUrl = `http://127.0.0.1:${(capture.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    await new Promise((r) => capture.close(r))
  })

  it('api_base / base_url in the body and x-base-url headers → 400; the capture server sees nothing, the provider key goes only to the channel', async () => {
    const tom = await h.account()
    const { secret } = await h.createKey(tom)
    const client = h.client(secret)
    const seen = h.emu.requests.length
    for (const field of ['api_base', 'base_url', 'baseURL']) {
      const err = await client.chat.completions
        .create({ model: 'qwen-plus', messages: [{ role: 'user', content: 'hi' }], ...({ [field]: captureUrl } as object) })
        .catch((e: unknown) => e)
      expect(err, field).toBeInstanceOf(OpenAI.BadRequestError)
      expect((err as APIError).param).toBe(field)
    }
    for (const header of ['x-base-url', 'x-api-base']) {
      const err = await h
        .client(secret, { defaultHeaders: { [header]: captureUrl } })
        .chat.completions.create({ model: 'qwen-plus', messages: [{ role: 'user', content: 'hi' }] })
        .catch((e: unknown) => e)
      expect(err, header).toBeInstanceOf(OpenAI.BadRequestError)
    }
    expect(h.emu.requests.length).toBe(seen)
    // An ordinary call: its provider key reached the configured channel, and nothing else was contacted.
    await client.chat.completions.create({ model: 'qwen-plus', messages: [{ role: 'user', content: 'hi' }] })
    const upstream = h.emu.requests.slice(seen)
    expect(upstream).toHaveLength(1)
    expect(bearerOf(upstream[0]!.headers)).toBe('sk-chat-test-000000001')
    expect(captured).toHaveLength(0)
  })

  it('unknown OpenAI fields are ignored, not refused', async () => {
    const uma = await h.account()
    const res = await h
      .client((await h.createKey(uma)).secret)
      .chat.completions.create({ model: 'qwen-plus', messages: [{ role: 'user', content: 'hi' }], store: false, metadata: { a: 'b' }, parallel_tool_calls: true, user: 'u-1' })
    expect(res.choices).toHaveLength(1)
  })
})

describe('upstream faults through /v1 (SECURITY K2, K3, M2, H3)', () => {
  const chat = '/compatible-mode/v1/chat/completions'
  const hold = async (userId: string) => {
    await h.settle()
    return (await h.t.app.services.billing.getBalance(userId)).reserved
  }

  it('K2: a 502 before the first byte is retried once; one answer, one row, one charge', async () => {
    const vic = await h.account()
    const client = h.client((await h.createKey(vic)).secret)
    const seen = h.emu.requests.length
    h.emu.inject({ type: 'http_error', status: 502 }, { times: 1, path: chat })
    const res = await client.chat.completions.create({ model: 'qwen-plus', messages: [{ role: 'user', content: 'hi' }] })
    expect(res.choices[0]!.message.content).toBeTruthy()
    expect(h.emu.requests.slice(seen).filter((r) => r.path === chat)).toHaveLength(2)
    const rows = await apiCalls(vic.user.id)
    expect(rows.map((r) => r.status)).toEqual(['ok'])
  })

  it('H3: an upstream that keeps failing → 5xx in OpenAI shape, the hold released, nothing charged', async () => {
    const wes = await h.account()
    const client = h.client((await h.createKey(wes)).secret)
    const before = await balanceOf(wes.user.id)
    h.emu.inject({ type: 'http_error', status: 500 }, { times: 10, path: chat })
    const err = await client.chat.completions.create({ model: 'qwen-plus', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)
    h.emu.clearFaults()
    expect(err).toBeInstanceOf(OpenAI.InternalServerError)
    expect((err as APIError).status).toBe(503)
    expect((err as APIError).code).toBe('upstream_unavailable')
    expect(await balanceOf(wes.user.id)).toBe(before)
    expect(await hold(wes.user.id)).toBe(0)
    const rows = await apiCalls(wes.user.id)
    expect(rows.map((r) => [r.status, r.errorCode, Number(r.cost)])).toEqual([['error', 'UPSTREAM_UNAVAILABLE', 0]])
  })

  it('K3: content refused by the provider → 400 content_policy_violation, not retried', async () => {
    const xia = await h.account()
    const client = h.client((await h.createKey(xia)).secret)
    const seen = h.emu.requests.length
    h.emu.inject({ type: 'content_filter' }, { times: 1, path: chat })
    const err = await client.chat.completions.create({ model: 'qwen-plus', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.BadRequestError)
    expect((err as APIError).code).toBe('content_policy_violation')
    expect(h.emu.requests.slice(seen).filter((r) => r.path === chat)).toHaveLength(1)
  })

  it('M2: an upstream cut mid-stream → an error chunk the SDK raises, no [DONE]; what was produced is billed', async () => {
    const yan = await h.account()
    const { secret } = await h.createKey(yan)
    h.emu.inject({ type: 'cut', afterChunks: 4 }, { times: 1, path: chat })
    const res = await fetch(`${h.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'qwen-plus', messages: [{ role: 'user', content: 'Tell me something long about bridges' }], stream: true }),
    })
    const text = await res.text()
    expect(res.status).toBe(200)
    expect(text).toContain('"content"')
    expect(text).toContain('data: {"error":')
    expect(text).not.toContain('[DONE]')
    const rows = await apiCalls(yan.user.id)
    expect(rows.map((r) => r.status)).toEqual(['error'])
    expect(Number(rows[0]!.cost)).toBeGreaterThan(0)
    expect(await hold(yan.user.id)).toBe(0)
  })
})

describe('per-key rate limits (SECURITY G2, through the gateway)', () => {
  it('the key’s requests per minute: the next one is a 429 with retry-after and x-ratelimit-*', async () => {
    const zed = await h.account()
    const { secret } = await h.createKey(zed)
    const settings = h.t.app.services.settings
    const before = (await settings.get()).rateLimits
    await h.t.deps.db.kysely.updateTable('settings').set({ value: JSON.stringify({ ...before, keyRpm: 2 }) }).where('key', '=', 'rateLimits').execute()
    settings.invalidate()
    try {
      const call = () => fetch(`${h.baseURL}/models`, { headers: { authorization: `Bearer ${secret}` } })
      const client = h.client(secret)
      const ok = await client.chat.completions.create({ model: 'qwen-plus', messages: [{ role: 'user', content: 'hi' }] }).withResponse()
      expect(ok.response.headers.get('x-ratelimit-limit')).toBeTruthy()
      await client.chat.completions.create({ model: 'qwen-plus', messages: [{ role: 'user', content: 'hi' }] })
      const err = await client.chat.completions.create({ model: 'qwen-plus', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(OpenAI.RateLimitError)
      expect((err as APIError).code).toBe('rate_limit_exceeded')
      expect(Number((err as APIError).headers?.get('retry-after'))).toBeGreaterThan(0)
      expect((err as APIError).headers?.get('x-ratelimit-remaining')).toBe('0')
      // Listing models is not a model call and is not limited.
      expect((await call()).status).toBe(200)
    } finally {
      await h.t.deps.db.kysely.updateTable('settings').set({ value: JSON.stringify(before) }).where('key', '=', 'rateLimits').execute()
      settings.invalidate()
    }
  })
})
