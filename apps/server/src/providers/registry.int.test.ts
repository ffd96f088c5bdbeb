import { randomBytes } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { AppDeps, MasterKeySet } from '../context'
import { AppError } from '../errors'
import { addChannel, bearerOf } from '../features/providers/testing'
import { masterKeyId } from '../platform/keys'
import { createTestApp, type TestApp } from '../test/app'
import { testDialects } from '../test/services'
import { startEmulator, type Emulator } from './emulator/index'
import { createProviderRegistry, type RegistryOptions } from './registry'
import { seedModelCatalog } from './seed'
import type { ChatEvent } from './types'

const PING = { messages: [{ role: 'user' as const, content: 'hello' }] }

async function collect(events: AsyncIterable<ChatEvent>): Promise<ChatEvent[]> {
  const out: ChatEvent[] = []
  for await (const e of events) out.push(e)
  return out
}

async function failure(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(AppError)
  return err as AppError
}

const keysOf = (emu: Emulator) => emu.requests.map((r) => bearerOf(r.headers))

describe.each(testDialects())('provider registry on %s', (dialect) => {
  let t: TestApp
  let emuA: Emulator
  let emuB: Emulator
  let clock: number
  const deps = (): AppDeps => ({ ...t.deps, now: () => new Date(clock) })
  const registry = (options: RegistryOptions = {}) =>
    createProviderRegistry(deps(), { audit: t.app.services.audit, cacheTtlMs: 0, ...options })

  beforeAll(async () => {
    t = await createTestApp({ dialect })
    await seedModelCatalog(t.deps.db)
    emuA = await startEmulator({ chunkDelayMs: 0 })
    emuB = await startEmulator({ chunkDelayMs: 0 })
  })
  afterAll(async () => {
    await emuA.close()
    await emuB.close()
    await t.close()
  })
  afterEach(async () => {
    emuA.clearFaults()
    emuB.clearFaults()
    emuA.requests.length = 0
    emuB.requests.length = 0
    // Each test builds its own channels.
    await t.deps.db.kysely.deleteFrom('providerKeys').execute()
    await t.deps.db.kysely.deleteFrom('providerChannels').execute()
  })
  beforeAll(() => {
    clock = Date.parse('2026-11-20T00:00:00Z')
  })

  it('fails over key → key → channel on 401 and disables the rejected keys with the reason', async () => {
    const a = await addChannel(t.deps.db, t.deps.masterKeys, { baseUrl: emuA.url, models: ['qwen-plus'], keys: ['sk-invalid-first-0001', 'sk-invalid-second-002'], priority: 10 })
    const b = await addChannel(t.deps.db, t.deps.masterKeys, { baseUrl: emuB.url, models: ['qwen-plus'], keys: ['sk-good-channel-b-0003'], priority: 0 })
    const handle = registry().chat('qwen-plus', PING)
    const events = await collect(handle.events)
    const meta = await handle.meta
    expect(meta).toMatchObject({ channelId: b.channelId, keyId: b.keyIds[0], provider: 'dashscope', upstreamModel: 'qwen-plus', attempts: 3 })
    expect(events.filter((e) => e.type === 'start')).toHaveLength(1)
    expect(events.some((e) => e.type === 'text')).toBe(true)
    expect(events.at(-1)?.type).toBe('done')
    expect(keysOf(emuA)).toEqual(['sk-invalid-first-0001', 'sk-invalid-second-002'])
    expect(keysOf(emuB)).toEqual(['sk-good-channel-b-0003'])

    const rows = await t.deps.db.kysely.selectFrom('providerKeys').selectAll().where('channelId', '=', a.channelId).execute()
    expect(rows).toHaveLength(2)
    for (const row of rows) {
      expect(row.status).toBe('disabled')
      expect(row.disabledReason).toBe('auth_failed (HTTP 401)')
      expect(row.nextProbeAt! > new Date(clock).toISOString()).toBe(true)
    }
    // The next request does not try the disabled keys again.
    await collect(registry().chat('qwen-plus', PING).events)
    expect(keysOf(emuA)).toHaveLength(2)
    const audit = await t.deps.db.kysely.selectFrom('auditLogs').selectAll().where('action', '=', 'provider.key.disabled').execute()
    expect(audit.length).toBeGreaterThanOrEqual(2)
  })

  it('fails over to the next key, then the next channel, on upstream 5xx without disabling keys', async () => {
    const a = await addChannel(t.deps.db, t.deps.masterKeys, { baseUrl: emuA.url, models: ['qwen-plus'], keys: ['sk-a-one-000000000001', 'sk-a-two-000000000002'], priority: 10 })
    const b = await addChannel(t.deps.db, t.deps.masterKeys, { baseUrl: emuB.url, models: ['qwen-plus'], keys: ['sk-b-one-000000000003'] })
    emuA.inject({ type: 'http_error', status: 503 }, { times: 100 })
    const handle = registry().chat('qwen-plus', PING)
    await collect(handle.events)
    expect((await handle.meta).channelId).toBe(b.channelId)
    // Both keys of channel A were tried (after the adapter's own retries), in order.
    const triedA = [...new Set(keysOf(emuA))]
    expect(triedA).toEqual(['sk-a-one-000000000001', 'sk-a-two-000000000002'])
    const statuses = await t.deps.db.kysely.selectFrom('providerKeys').select('status').where('channelId', '=', a.channelId).execute()
    expect(statuses.map((s) => s.status)).toEqual(['active', 'active'])
  })

  it('opens the circuit after repeated failures, skips the channel, then lets one half-open trial close it', async () => {
    const a = await addChannel(t.deps.db, t.deps.masterKeys, { baseUrl: emuA.url, models: ['qwen-plus'], keys: ['sk-a-circuit-0000001'], priority: 10 })
    const b = await addChannel(t.deps.db, t.deps.masterKeys, { baseUrl: emuB.url, models: ['qwen-plus'], keys: ['sk-b-circuit-0000002'] })
    const reg = registry({ breaker: { failureThreshold: 2, windowMs: 60_000, cooldownMs: 30_000 } })
    emuA.inject({ type: 'http_error', status: 502 }, { times: 100 })

    for (let i = 0; i < 2; i++) {
      const h = reg.chat('qwen-plus', PING)
      await collect(h.events)
      expect((await h.meta).channelId).toBe(b.channelId)
    }
    expect(reg.breakerState(a.channelId)).toBe('open')
    const seenByA = emuA.requests.length

    // Open: channel A is skipped entirely.
    const skipped = reg.chat('qwen-plus', PING)
    await collect(skipped.events)
    expect((await skipped.meta).channelId).toBe(b.channelId)
    expect(emuA.requests.length).toBe(seenByA)

    // After the cool-down one trial goes through; A has recovered, so the circuit closes.
    clock += 31_000
    expect(reg.breakerState(a.channelId)).toBe('half_open')
    emuA.clearFaults()
    const trial = reg.chat('qwen-plus', PING)
    await collect(trial.events)
    expect((await trial.meta).channelId).toBe(a.channelId)
    expect(reg.breakerState(a.channelId)).toBe('closed')
  })

  it('answers a fast UPSTREAM_UNAVAILABLE while the only channel is open, and re-opens on a failed trial', async () => {
    const a = await addChannel(t.deps.db, t.deps.masterKeys, { baseUrl: emuA.url, models: ['qwen-turbo'], keys: ['sk-only-channel-0001'] })
    const reg = registry({ breaker: { failureThreshold: 1, windowMs: 60_000, cooldownMs: 10_000 } })
    emuA.inject({ type: 'http_error', status: 500 }, { times: 100 })
    const first = await failure(collect(reg.chat('qwen-turbo', PING).events))
    expect(first.code).toBe('UPSTREAM_UNAVAILABLE')
    const seen = emuA.requests.length
    const fast = await failure(collect(reg.chat('qwen-turbo', PING).events))
    expect(fast.code).toBe('UPSTREAM_UNAVAILABLE')
    expect(fast.retryAfter).toBe(10)
    expect(emuA.requests.length).toBe(seen)
    clock += 10_000
    await failure(collect(reg.chat('qwen-turbo', PING).events))
    expect(emuA.requests.length).toBeGreaterThan(seen)
    expect(reg.breakerState(a.channelId)).toBe('open')
  })

  it('never retries once the stream produced content', async () => {
    await addChannel(t.deps.db, t.deps.masterKeys, { baseUrl: emuA.url, models: ['qwen-plus'], keys: ['sk-a-cut-00000000001', 'sk-a-cut-00000000002'], priority: 10 })
    await addChannel(t.deps.db, t.deps.masterKeys, { baseUrl: emuB.url, models: ['qwen-plus'], keys: ['sk-b-cut-00000000003'] })
    emuA.inject({ type: 'cut', afterChunks: 2 })
    const seen: ChatEvent[] = []
    const err = await failure(
      (async () => {
        for await (const e of registry().chat('qwen-plus', PING).events) seen.push(e)
      })(),
    )
    expect(['UPSTREAM_UNAVAILABLE', 'UPSTREAM_TIMEOUT']).toContain(err.code)
    expect(seen.some((e) => e.type === 'text')).toBe(true)
    expect(emuA.requests).toHaveLength(1)
    expect(emuB.requests).toHaveLength(0)
  })

  it('does not fail over a bad request or a content-policy refusal', async () => {
    await addChannel(t.deps.db, t.deps.masterKeys, { baseUrl: emuA.url, models: ['qwen-plus'], keys: ['sk-a-bad-00000000001', 'sk-a-bad-00000000002'], priority: 10 })
    await addChannel(t.deps.db, t.deps.masterKeys, { baseUrl: emuB.url, models: ['qwen-plus'], keys: ['sk-b-bad-00000000003'] })
    emuA.inject({ type: 'http_error', status: 400, message: 'Range of input length should be [1, 30720]' })
    const bad = await failure(collect(registry().chat('qwen-plus', PING).events))
    expect(bad.code).toBe('UPSTREAM_BAD_REQUEST')
    emuA.inject({ type: 'content_filter' })
    const filtered = await failure(collect(registry().chat('qwen-plus', PING).events))
    expect(filtered.code).toBe('UPSTREAM_CONTENT_FILTERED')
    expect(emuA.requests).toHaveLength(2)
    expect(emuB.requests).toHaveLength(0)
  })

  it('never uses a key whose ciphertext was tampered with: disabled as decrypt_failed (J1)', async () => {
    const a = await addChannel(t.deps.db, t.deps.masterKeys, { baseUrl: emuA.url, models: ['qwen-plus'], keys: ['sk-tampered-00000001'], priority: 10 })
    const b = await addChannel(t.deps.db, t.deps.masterKeys, { baseUrl: emuB.url, models: ['qwen-plus'], keys: ['sk-b-fine-0000000002'] })
    const row = await t.deps.db.kysely.selectFrom('providerKeys').select('ciphertext').where('id', '=', a.keyIds[0]!).executeTakeFirstOrThrow()
    const raw = Buffer.from(row.ciphertext, 'base64')
    raw[20]! ^= 0x04
    await t.deps.db.kysely.updateTable('providerKeys').set({ ciphertext: raw.toString('base64') }).where('id', '=', a.keyIds[0]!).execute()

    const handle = registry().chat('qwen-plus', PING)
    await collect(handle.events)
    expect((await handle.meta).channelId).toBe(b.channelId)
    expect(emuA.requests).toHaveLength(0)
    const key = await t.deps.db.kysely.selectFrom('providerKeys').selectAll().where('id', '=', a.keyIds[0]!).executeTakeFirstOrThrow()
    expect(key).toMatchObject({ status: 'disabled', disabledReason: 'decrypt_failed', nextProbeAt: null })
  })

  it('keeps working across a master-key rotation and re-encrypts lazily on use (J2)', async () => {
    const oldKeys = t.deps.masterKeys
    const a = await addChannel(t.deps.db, oldKeys, { baseUrl: emuA.url, models: ['qwen-plus'], keys: ['sk-rotate-lazy-000001'] })
    const fresh = randomBytes(32)
    const rotated: MasterKeySet = { current: { id: masterKeyId(fresh), key: fresh }, old: [oldKeys.current] }
    const reg = createProviderRegistry({ ...deps(), masterKeys: rotated }, { cacheTtlMs: 0 })
    const h = reg.chat('qwen-plus', PING)
    await collect(h.events)
    expect((await h.meta).keyId).toBe(a.keyIds[0])
    expect(keysOf(emuA)).toEqual(['sk-rotate-lazy-000001'])
    const row = await t.deps.db.kysely.selectFrom('providerKeys').select('masterKeyId').where('id', '=', a.keyIds[0]!).executeTakeFirstOrThrow()
    expect(row.masterKeyId).toBe(rotated.current.id)
    // The new key alone now opens it.
    const onlyNew = createProviderRegistry({ ...deps(), masterKeys: { current: rotated.current, old: [] } }, { cacheTtlMs: 0 })
    await collect(onlyNew.chat('qwen-plus', PING).events)
    expect(keysOf(emuA)).toEqual(['sk-rotate-lazy-000001', 'sk-rotate-lazy-000001'])
  })

  it('re-probes keys disabled for auth failures and re-enables the ones that work again', async () => {
    const a = await addChannel(t.deps.db, t.deps.masterKeys, { baseUrl: emuA.url, models: ['qwen-plus'], keys: ['sk-works-again-00001', 'sk-invalid-still-0002'] })
    const past = new Date(clock - 1000).toISOString()
    await t.deps.db.kysely
      .updateTable('providerKeys')
      .set({ status: 'disabled', disabledReason: 'auth_failed (HTTP 401)', nextProbeAt: past })
      .where('channelId', '=', a.channelId)
      .execute()
    const probed = await registry().probeDueKeys()
    expect(probed).toBe(2)
    const rows = await t.deps.db.kysely.selectFrom('providerKeys').selectAll().where('channelId', '=', a.channelId).orderBy('id').execute()
    expect(rows[0]).toMatchObject({ status: 'active', disabledReason: null, nextProbeAt: null })
    expect(rows[1]).toMatchObject({ status: 'disabled' })
    expect(rows[1]!.nextProbeAt! > new Date(clock).toISOString()).toBe(true)
    // The probe is a cheap call: one token at most.
    const body = JSON.parse(emuA.requests[0]!.body) as Record<string, unknown>
    expect(JSON.stringify(body)).toMatch(/"max_tokens":1\b/)
  })

  it('sends admin channels through the SSRF guard: an internal host is refused at connect time (F1, F3)', async () => {
    const port = new URL(emuA.url).port
    // As if the row had slipped past the check on save (or the name was re-pointed since).
    await addChannel(t.deps.db, t.deps.masterKeys, { source: 'admin', baseUrl: `http://localhost:${port}`, models: ['qwen-plus'], keys: ['sk-admin-rebind-00001'], priority: 10 })
    const b = await addChannel(t.deps.db, t.deps.masterKeys, { baseUrl: emuB.url, models: ['qwen-plus'], keys: ['sk-b-after-rebind-002'] })
    const reg = registry()
    const h = reg.chat('qwen-plus', PING)
    await collect(h.events)
    expect((await h.meta).channelId).toBe(b.channelId)
    expect(emuA.requests).toHaveLength(0)
    await reg.close()
  })

  it('does not follow an upstream redirect, even to an allowed host (F3)', async () => {
    const { createServer } = await import('node:http')
    const target = `http://127.0.0.1:${new URL(emuB.url).port}/compatible-mode/v1/chat/completions`
    const redirector = createServer((req, res) => {
      req.resume()
      res.writeHead(307, { location: target })
      res.end()
    })
    await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', r))
    const port = (redirector.address() as { port: number }).port
    await addChannel(t.deps.db, t.deps.masterKeys, { source: 'admin', type: 'openai-compatible', baseUrl: `http://127.0.0.1:${port}/v1`, models: ['qwen-plus'], keys: ['sk-admin-redirect-0001'] })
    const reg = createProviderRegistry({ ...deps(), config: { ...t.deps.config, QIAO_UPSTREAM_ALLOWLIST: ['127.0.0.1'] } }, { cacheTtlMs: 0 })
    const err = await failure(collect(reg.chat('qwen-plus', PING).events))
    expect(err.code).toMatch(/^UPSTREAM_/)
    expect(emuB.requests).toHaveLength(0)
    await reg.close()
    await new Promise<void>((r) => redirector.close(() => r()))
  })

  it('maps unknown and disabled models and models without a channel to stable codes', async () => {
    expect((await failure(collect(registry().chat('gpt-nope', PING).events))).code).toBe('MODEL_NOT_FOUND')
    expect((await failure(collect(registry().chat('wanx-v1', PING).events))).code).toBe('VALIDATION_FAILED')
    expect((await failure(collect(registry().chat('qwen-max', PING).events))).code).toBe('UPSTREAM_UNAVAILABLE')
    await t.deps.db.kysely.updateTable('models').set({ enabled: 0 }).where('id', '=', 'qwen-max').execute()
    expect((await failure(collect(registry().chat('qwen-max', PING).events))).code).toBe('MODEL_DISABLED')
    await t.deps.db.kysely.updateTable('models').set({ enabled: 1 }).where('id', '=', 'qwen-max').execute()
  })

  it('serves embeddings and image tasks through the same failover, and polls a task on its own channel', async () => {
    await addChannel(t.deps.db, t.deps.masterKeys, { baseUrl: emuA.url, models: ['text-embedding-v3', 'wanx2.1-t2i-turbo'], keys: ['sk-invalid-emb-00001'], priority: 5 })
    const b = await addChannel(t.deps.db, t.deps.masterKeys, { baseUrl: emuB.url, models: ['text-embedding-v3', 'wanx2.1-t2i-turbo'], keys: ['sk-b-emb-000000000002'] })
    const reg = registry()
    const { result, meta } = await reg.embed('text-embedding-v3', { input: ['你好', 'world'] })
    expect(result.vectors).toHaveLength(2)
    expect(meta.channelId).toBe(b.channelId)
    const created = await reg.createImageTask('wanx2.1-t2i-turbo', { prompt: 'a red fox in snow', n: 1 })
    expect(created.meta.channelId).toBe(b.channelId)
    const polled = await reg.getImageTask({ channelId: created.meta.channelId, keyId: created.meta.keyId }, created.result.taskId)
    expect(polled.taskId).toBe(created.result.taskId)
    expect(keysOf(emuB).every((k) => k === 'sk-b-emb-000000000002')).toBe(true)
  })
})
