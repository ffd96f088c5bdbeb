import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AppError } from '../../errors'
import { startEmulator, type Emulator } from '../../providers/emulator/index'
import { seedModelCatalog } from '../../providers/seed'
import { createTestApp, type TestApp } from '../../test/app'
import { testDialects } from '../../test/services'
import { bearer, promote, registerUser } from '../auth/testing'
import { addChannel, bearerOf } from './testing'

/** An OpenAI-shaped upstream that records every Authorization header and answers with scripted statuses. */
async function captureServer() {
  const seen: Array<{ path: string; key: string | undefined; host: string | undefined }> = []
  /** The status every request gets until changed. */
  const state = { status: 200 }
  const server: Server = createServer((req, res) => {
    seen.push({ path: req.url ?? '', key: bearerOf(req.headers), host: req.headers.host })
    let raw = ''
    req.on('data', (c: Buffer) => (raw += c.toString()))
    req.on('end', () => {
      const status = state.status
      if (status !== 200) {
        res.writeHead(status, { 'content-type': 'application/json', ...(status === 429 ? { 'retry-after': '0' } : {}) })
        // Echo the key like some providers do: it must not travel further.
        const code = status === 401 ? 'invalid_api_key' : status === 429 ? 'rate_limit_exceeded' : 'server_error'
        const type = status === 401 ? 'invalid_request_error' : status === 429 ? 'requests' : 'server_error'
        res.end(JSON.stringify({ error: { message: `failure for key ${bearerOf(req.headers) ?? ''}`, type, code } }))
        return
      }
      const stream = (JSON.parse(raw || '{}') as { stream?: boolean }).stream === true
      const message = { role: 'assistant', content: 'pong' }
      if (!stream) {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ id: 'cap-1', object: 'chat.completion', model: 'qwen-plus', choices: [{ index: 0, message, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }))
        return
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
        `data: ${JSON.stringify({ id: 'cap-1', object: 'chat.completion.chunk', model: 'qwen-plus', choices, ...extra })}\n\n`
      res.write(chunk([{ index: 0, delta: message, finish_reason: null }]))
      res.write(chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]))
      res.write(chunk([], { usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }))
      res.end('data: [DONE]\n\n')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`
  return { seen, state, url, close: () => new Promise<void>((r) => server.close(() => r())) }
}

describe.each(testDialects())('admin providers API on %s', (dialect) => {
  let t: TestApp
  let emu: Emulator
  let capture: Awaited<ReturnType<typeof captureServer>>
  let admin: { authorization: string }
  let user: { authorization: string }
  const answers: LightMyRequestResponse[] = []
  const call = async (opts: Parameters<TestApp['inject']>[0]) => {
    const res = await t.inject(opts)
    answers.push(res)
    return res
  }

  beforeAll(async () => {
    // The capture server and the emulator run on loopback, which only an allow-list lets admins use.
    t = await createTestApp({ dialect, env: { QIAO_UPSTREAM_ALLOWLIST: '127.0.0.1' } })
    await seedModelCatalog(t.deps.db)
    emu = await startEmulator({ chunkDelayMs: 0 })
    capture = await captureServer()
    const a = await registerUser(t)
    await promote(t, a.user.id)
    admin = bearer(a.accessToken)
    user = bearer((await registerUser(t)).accessToken)
  })
  afterAll(async () => {
    await emu.close()
    await capture.close()
    await t.close()
  })

  it('is for admins only', async () => {
    for (const [method, url] of [
      ['GET', '/api/admin/providers'],
      ['POST', '/api/admin/providers'],
      ['GET', '/api/admin/models'],
      ['PATCH', '/api/admin/models/qwen-plus'],
    ] as const) {
      expect((await t.inject({ method, url, headers: user, payload: {} })).statusCode).toBe(403)
      expect((await t.inject({ method, url, payload: {} })).statusCode).toBe(401)
    }
  })

  it('refuses internal, odd or injected upstream URLs on save (F1) and unknown fields like api_base (F2)', async () => {
    const base = { type: 'openai-compatible', name: 'x', models: ['qwen-plus'] }
    for (const baseUrl of [
      'http://169.254.169.254/latest',
      'http://[::1]:8080/v1',
      'http://127.0.0.2:6379',
      'http://localhost:6379',
      'file:///etc/passwd',
      'gopher://example.com:70/_x',
      'https://api.example.com@10.0.0.1/v1',
      'https://api.example.com/v1#frag',
      'https://api.example.com/v1?x=1',
    ]) {
      const res = await call({ method: 'POST', url: '/api/admin/providers', headers: admin, payload: { ...base, baseUrl } })
      expect(res.statusCode, baseUrl).toBe(400)
      expect(res.json().error.code, baseUrl).toBe('URL_NOT_ALLOWED')
    }
    const injected = await call({ method: 'POST', url: '/api/admin/providers', headers: admin, payload: { ...base, baseUrl: capture.url, api_base: 'http://169.254.169.254' } })
    expect(injected.statusCode).toBe(400)
    expect(injected.json().error.code).toBe('VALIDATION_FAILED')
    const list = await call({ method: 'GET', url: '/api/admin/providers', headers: admin })
    expect(list.json().items).toEqual([])
  })

  it('keeps keys write-only: created, listed, tested, disabled and deleted with only hints shown, every write audited', async () => {
    const secret = 'sk-admin-created-key-9f3a'
    const created = await call({
      method: 'POST',
      url: '/api/admin/providers',
      headers: admin,
      payload: { type: 'dashscope', name: 'Emulated Bailian', baseUrl: emu.url, models: ['qwen-plus'], priority: 5, keys: [secret] },
    })
    expect(created.statusCode).toBe(201)
    const channel = created.json()
    expect(channel).toMatchObject({ type: 'dashscope', source: 'admin', enabled: true, circuit: 'closed', models: ['qwen-plus'] })
    expect(channel.keys).toEqual([expect.objectContaining({ hint: 'sk-…9f3a', status: 'active' })])
    expect(created.body).not.toContain(secret)

    const bad = await call({ method: 'POST', url: `/api/admin/providers/${channel.id}/keys`, headers: admin, payload: { secret: 'sk-invalid-added-key-77aa' } })
    expect(bad.statusCode).toBe(201)
    expect(bad.json()).toEqual(expect.objectContaining({ hint: 'sk-…77aa', status: 'active' }))

    const ok = await call({ method: 'POST', url: `/api/admin/providers/${channel.id}/keys/${channel.keys[0].id}/test`, headers: admin })
    expect(ok.statusCode).toBe(200)
    expect(ok.json()).toMatchObject({ ok: true, key: { status: 'active' } })
    const rejected = await call({ method: 'POST', url: `/api/admin/providers/${channel.id}/keys/${bad.json().id}/test`, headers: admin })
    expect(rejected.json()).toMatchObject({ ok: false, error: { code: 'UPSTREAM_AUTH_FAILED' }, key: { status: 'disabled' } })
    expect(rejected.json().key.disabledReason).toMatch(/^auth_failed/)

    const keys = await call({ method: 'GET', url: `/api/admin/providers/${channel.id}/keys`, headers: admin })
    expect(keys.json().items.map((k: { hint: string }) => k.hint)).toEqual(['sk-…9f3a', 'sk-…77aa'])
    for (const k of keys.json().items) expect(Object.keys(k).sort()).toEqual(['createdAt', 'disabledReason', 'hint', 'id', 'lastError', 'lastUsedAt', 'nextProbeAt', 'status'])

    const patched = await call({ method: 'PATCH', url: `/api/admin/providers/${channel.id}`, headers: admin, payload: { weight: 3, name: 'Renamed' } })
    expect(patched.json()).toMatchObject({ weight: 3, name: 'Renamed' })
    const disabled = await call({ method: 'PATCH', url: `/api/admin/providers/${channel.id}/keys/${channel.keys[0].id}`, headers: admin, payload: { status: 'disabled' } })
    expect(disabled.json()).toMatchObject({ status: 'disabled', disabledReason: 'disabled by an admin' })
    expect((await call({ method: 'DELETE', url: `/api/admin/providers/${channel.id}/keys/${bad.json().id}`, headers: admin })).statusCode).toBe(204)
    expect((await call({ method: 'DELETE', url: `/api/admin/providers/${channel.id}`, headers: admin })).statusCode).toBe(204)
    expect((await call({ method: 'GET', url: `/api/admin/providers/${channel.id}`, headers: admin })).statusCode).toBe(404)
    expect(await t.deps.db.kysely.selectFrom('providerKeys').selectAll().where('channelId', '=', channel.id).execute()).toEqual([])

    const actions = (await t.deps.db.kysely.selectFrom('auditLogs').select('action').execute()).map((r) => r.action)
    for (const action of ['provider.channel.created', 'provider.key.added', 'provider.key.tested', 'provider.channel.updated', 'provider.key.updated', 'provider.key.deleted', 'provider.channel.deleted']) {
      expect(actions).toContain(action)
    }
  })

  it('stores no plaintext key anywhere in a database dump (J1)', async () => {
    const secret = 'sk-dump-check-0123456789abcdef'
    const res = await call({ method: 'POST', url: '/api/admin/providers', headers: admin, payload: { type: 'moonshot', name: 'dump', baseUrl: emu.moonshotUrl, models: ['moonshot-v1-8k'], keys: [secret] } })
    expect(res.statusCode).toBe(201)
    const dump: unknown[] = []
    for (const table of ['users', 'providerChannels', 'providerKeys', 'models', 'auditLogs', 'settings', 'apiKeys', 'refreshTokens'] as const) {
      dump.push(await t.deps.db.kysely.selectFrom(table).selectAll().execute())
    }
    const text = JSON.stringify(dump)
    expect(text).toContain('sk-…cdef')
    expect(text).not.toContain(secret)
    expect(text).not.toContain(secret.slice(3, 20))
  })

  it('refuses to re-point a server-managed channel', async () => {
    const env = await addChannel(t.deps.db, t.deps.masterKeys, { baseUrl: emu.url, models: ['qwen-turbo'], keys: ['sk-env-managed-000001'], source: 'env' })
    const res = await call({ method: 'PATCH', url: `/api/admin/providers/${env.channelId}`, headers: admin, payload: { baseUrl: capture.url } })
    expect(res.statusCode).toBe(409)
    expect(res.json().error.code).toBe('CONFLICT')
  })

  it('sends each provider key only to its own host and never shows it in logs, errors, audits or answers (F2, J3)', async () => {
    const keyA = 'sk-capture-only-key-a-5e1f0c'
    const keyB = 'sk-emulator-only-key-b-92d4b7'
    // Channel A: an admin channel at the capture server (first by priority). Channel B: the emulator.
    const a = await call({
      method: 'POST',
      url: '/api/admin/providers',
      headers: admin,
      payload: { type: 'openai-compatible', name: 'capture', baseUrl: capture.url, models: ['qwen-plus'], priority: 100, keys: [keyA] },
    })
    expect(a.statusCode).toBe(201)
    await addChannel(t.deps.db, t.deps.masterKeys, { baseUrl: emu.url, models: ['qwen-plus'], keys: [keyB], priority: 0 })
    const providers = t.app.services.providers
    providers.invalidate()
    const errors: AppError[] = []
    const drain = async () => {
      try {
        const h = providers.chat('qwen-plus', { messages: [{ role: 'user', content: 'hi' }] })
        for await (const _ of h.events) {
          // consume
        }
        return (await h.meta).channelId
      } catch (err) {
        errors.push(err as AppError)
        return undefined
      }
    }
    // 500s and 429s on A fail over to B.
    capture.state.status = 500
    expect(await drain()).not.toBe(a.json().id)
    capture.state.status = 429
    expect(await drain()).not.toBe(a.json().id)
    capture.state.status = 200
    expect(await drain()).toBe(a.json().id)
    // A 401 on A disables its key; B answers.
    capture.state.status = 401
    expect(await drain()).not.toBe(a.json().id)
    // Now only B is left; make the emulator fail with 401, 500 and 429 too.
    emu.inject({ type: 'http_error', status: 500 }, { times: 3 })
    await drain()
    emu.inject({ type: 'http_error', status: 429, retryAfterSeconds: 0 }, { times: 3 })
    await drain()
    emu.inject({ type: 'http_error', status: 400, message: `bad input near ${keyB}` })
    await drain()
    emu.inject({ type: 'http_error', status: 401 })
    await drain()
    expect(errors.length).toBeGreaterThanOrEqual(3)

    // The admin's key test against a failing upstream.
    const keyAId = a.json().keys[0].id as string
    capture.state.status = 500
    const probe500 = await call({ method: 'POST', url: `/api/admin/providers/${a.json().id}/keys/${keyAId}/test`, headers: admin })
    expect(probe500.json()).toMatchObject({ ok: false })
    capture.state.status = 401
    const probe401 = await call({ method: 'POST', url: `/api/admin/providers/${a.json().id}/keys/${keyAId}/test`, headers: admin })
    expect(probe401.json()).toMatchObject({ ok: false, error: { code: 'UPSTREAM_AUTH_FAILED' } })

    // Validation errors that carry the key in the body.
    const badBody = await call({ method: 'POST', url: `/api/admin/providers/${a.json().id}/keys`, headers: admin, payload: { secret: `${keyA} x` } })
    expect(badBody.statusCode).toBe(400)
    const extra = await call({ method: 'POST', url: `/api/admin/providers/${a.json().id}/keys`, headers: admin, payload: { secret: keyA, apiBase: keyB } })
    expect(extra.statusCode).toBe(400)
    const admins = await call({ method: 'GET', url: '/api/admin/providers', headers: admin })

    // Where each key went.
    expect(capture.seen.length).toBeGreaterThan(0)
    expect(new Set(capture.seen.map((s) => s.key))).toEqual(new Set([keyA]))
    const emuKeys = new Set(emu.requests.map((r) => bearerOf(r.headers)))
    expect(emuKeys.has(keyA)).toBe(false)
    expect(emuKeys.has(keyB)).toBe(true)

    // Where neither key is.
    const audits = JSON.stringify(await t.deps.db.kysely.selectFrom('auditLogs').selectAll().execute())
    const haystacks = {
      logs: t.logs.text,
      errors: JSON.stringify(errors.map((e) => ({ code: e.code, message: e.message, details: e.details }))),
      answers: answers.map((r) => r.body).join('\n') + admins.body,
      audits,
    }
    for (const [where, text] of Object.entries(haystacks)) {
      for (const key of [keyA, keyB]) {
        expect(text.includes(key), `${where} contains a provider key`).toBe(false)
        expect(text.includes(key.slice(3, 18)), `${where} contains part of a provider key`).toBe(false)
      }
      expect(/authorization":\s*"Bearer/i.test(text), `${where} contains an Authorization header`).toBe(false)
    }
    expect(admins.body).toContain('sk-…1f0c')
  })
})
