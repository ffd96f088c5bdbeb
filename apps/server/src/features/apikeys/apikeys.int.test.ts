import { createHash } from 'node:crypto'
import type { ApiKey, CreatedApiKey } from '@qiao/shared'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seedModelCatalog } from '../../providers/seed'
import { createTestApp, type TestApp } from '../../test/app'
import { testDialects } from '../../test/services'
import { bearer, registerUser, type TestAccount } from '../auth/testing'
import { addChannel } from '../providers/testing'

/** Personal API keys through /api/keys, and how /v1 authenticates them (SECURITY C7, J4, A6). */
describe.each(testDialects())('api keys on %s', (dialect) => {
  let t: TestApp
  let clock = Date.now()

  beforeAll(async () => {
    t = await createTestApp({ dialect, deps: { now: () => new Date(clock) } })
    await seedModelCatalog(t.deps.db)
    // Served models (no upstream is contacted by these tests: only /v1/models is called).
    await addChannel(t.deps.db, t.deps.masterKeys, { baseUrl: 'http://127.0.0.1:9', models: ['qwen-plus', 'qwen-max'], keys: ['sk-unused-0000000001'] })
    t.app.services.providers.invalidate()
  })
  afterAll(async () => {
    await t?.close()
  })

  const create = (who: TestAccount, payload: Record<string, unknown>) => t.inject({ method: 'POST', url: '/api/keys', headers: bearer(who.accessToken), payload })
  const models = (secret: string) => t.inject({ method: 'GET', url: '/v1/models', headers: { authorization: `Bearer ${secret}` } })

  it('J4: the secret is sk-qiao- + 256 random bits, shown once; only its SHA-256 and prefix are stored', async () => {
    const alice = await registerUser(t)
    const res = await create(alice, { name: 'laptop', monthlyLimit: 5_000_000, allowedModels: ['qwen-plus'] })
    expect(res.statusCode).toBe(201)
    expect(res.headers['cache-control']).toBe('no-store')
    const { key, secret } = res.json<CreatedApiKey>()
    expect(secret).toMatch(/^sk-qiao-[A-Za-z0-9_-]{43}$/)
    expect(key).toMatchObject({ name: 'laptop', prefix: secret.slice(0, 16), status: 'active', monthlyLimit: 5_000_000, allowedModels: ['qwen-plus'], monthSpent: 0 })
    const row = await t.deps.db.kysely.selectFrom('apiKeys').selectAll().where('id', '=', key.id).executeTakeFirstOrThrow()
    expect(row.keyHash).toBe(createHash('sha256').update(secret).digest('hex'))
    expect(JSON.stringify(row)).not.toContain(secret.slice(16))

    const list = await t.inject({ method: 'GET', url: '/api/keys', headers: bearer(alice.accessToken) })
    expect(list.statusCode).toBe(200)
    expect(list.json<{ items: ApiKey[] }>().items.map((k) => k.id)).toEqual([key.id])
    expect(list.body).not.toContain(row.keyHash)
    expect(list.body).not.toContain(secret.slice(16))

    const secrets = new Set<string>()
    for (let i = 0; i < 5; i++) secrets.add((await create(alice, { name: `k${i}` })).json<CreatedApiKey>().secret)
    expect(secrets.size).toBe(5)
    expect((await models(secret)).statusCode).toBe(200)
  })

  it('C7: a key cannot be granted models its owner may not use → 403, nothing stored', async () => {
    const bob = await registerUser(t)
    for (const allowedModels of [['gpt-9'], ['qwen-plus', 'wanx-v1']]) {
      const res = await create(bob, { name: 'wide', allowedModels })
      expect(res.statusCode).toBe(403)
      expect(res.json<{ error: { code: string } }>().error.code).toBe('FORBIDDEN')
    }
    const list = await t.inject({ method: 'GET', url: '/api/keys', headers: bearer(bob.accessToken) })
    expect(list.json<{ items: ApiKey[] }>().items).toHaveLength(0)
  })

  it("C7: another user cannot list or revoke a user's keys (404), and the key keeps working", async () => {
    const carol = await registerUser(t)
    const dave = await registerUser(t)
    const { key, secret } = (await create(carol, { name: 'mine' })).json<CreatedApiKey>()
    const list = await t.inject({ method: 'GET', url: '/api/keys', headers: bearer(dave.accessToken) })
    expect(list.json<{ items: ApiKey[] }>().items).toHaveLength(0)
    const del = await t.inject({ method: 'DELETE', url: `/api/keys/${key.id}`, headers: bearer(dave.accessToken) })
    expect(del.statusCode).toBe(404)
    expect((await models(secret)).statusCode).toBe(200)
    // The owner can; the next use fails.
    expect((await t.inject({ method: 'DELETE', url: `/api/keys/${key.id}`, headers: bearer(carol.accessToken) })).statusCode).toBe(204)
    const after = await models(secret)
    expect(after.statusCode).toBe(401)
    expect(after.json<{ error: { code: string } }>().error.code).toBe('invalid_api_key')
    const listed = await t.inject({ method: 'GET', url: '/api/keys', headers: bearer(carol.accessToken) })
    expect(listed.json<{ items: ApiKey[] }>().items[0]).toMatchObject({ id: key.id, status: 'revoked' })
  })

  it('an expiry in the past is refused; a key past its expiry gets 401', async () => {
    const erin = await registerUser(t)
    expect((await create(erin, { name: 'old', expiresAt: new Date(clock - 1000).toISOString() })).statusCode).toBe(400)
    const { secret } = (await create(erin, { name: 'short', expiresAt: new Date(clock + 3_600_000).toISOString() })).json<CreatedApiKey>()
    expect((await models(secret)).statusCode).toBe(200)
    clock += 2 * 3_600_000
    const res = await models(secret)
    expect(res.statusCode).toBe(401)
    expect(res.json<{ error: { message: string } }>().error.message).toMatch(/expired/)
  })

  it('keys need a signed-in user; unknown body fields are refused', async () => {
    expect((await t.inject({ method: 'GET', url: '/api/keys' })).statusCode).toBe(401)
    const fay = await registerUser(t)
    expect((await create(fay, { name: 'x', scopes: ['admin'] })).statusCode).toBe(400)
  })
})
