import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MODEL_CATALOG, seedModelCatalog, startProviders } from '../../providers/seed'
import { createTestApp, type TestApp } from '../../test/app'
import { testDialects } from '../../test/services'
import { bearer, promote, registerUser } from '../auth/testing'

interface Item {
  id: string
  displayName: string
  emulated: boolean
  prices: Record<string, number>
  kind: string
  capabilities: string[]
}

describe.each(testDialects())('model catalog on %s', (dialect) => {
  let t: TestApp
  let stop: () => Promise<void>
  let admin: { authorization: string }
  let user: { authorization: string }
  const models = async () => {
    const res = await t.inject({ method: 'GET', url: '/api/models', headers: user })
    expect(res.statusCode).toBe(200)
    return res.json().items as Item[]
  }

  beforeAll(async () => {
    // No provider key and the emulator on: the offline demo `npm start` gives.
    t = await createTestApp({ dialect, env: { QIAO_EMULATOR: 'auto', QIAO_UPSTREAM_ALLOWLIST: '127.0.0.1' } })
    stop = await startProviders(t.deps, t.app.services.providers)
    const a = await registerUser(t)
    await promote(t, a.user.id)
    admin = bearer(a.accessToken)
    user = bearer((await registerUser(t)).accessToken)
  })
  afterAll(async () => {
    await stop()
    await t.close()
  })

  it('needs a signed-in user', async () => {
    expect((await t.inject({ method: 'GET', url: '/api/models' })).statusCode).toBe(401)
  })

  it('lists the whole catalog, every model flagged and named as emulated, with prices', async () => {
    const items = await models()
    expect(items.map((m) => m.id).sort()).toEqual(MODEL_CATALOG.map((m) => m.id).sort())
    for (const m of items) {
      expect(m.emulated, m.id).toBe(true)
      expect(m.displayName, m.id).toMatch(/（模拟）$/)
    }
    const plus = items.find((m) => m.id === 'qwen-plus')!
    expect(plus).toMatchObject({ kind: 'chat', displayName: 'Qwen-Plus（模拟）', prices: { inputPerMTok: 800_000, outputPerMTok: 2_000_000 } })
    expect(items.find((m) => m.id === 'wanx-v1')!.prices).toEqual({ perImage: 160_000 })
    expect(items.find((m) => m.id === 'qwen-vl-max')!.capabilities).toContain('vision')
    expect(items.find((m) => m.id === 'kimi-k2-thinking')!.capabilities).toContain('thinking')
  })

  it('serves emulated models through the real adapters', async () => {
    const h = t.app.services.providers.chat('kimi-k2-0905-preview', { messages: [{ role: 'user', content: '你好' }] })
    let text = ''
    for await (const e of h.events) if (e.type === 'text') text += e.delta
    expect(text.length).toBeGreaterThan(0)
    expect((await h.meta).emulated).toBe(true)
  })

  it('stops calling a model emulated once a real channel serves it', async () => {
    const res = await t.inject({
      method: 'POST',
      url: '/api/admin/providers',
      headers: admin,
      payload: { type: 'openai-compatible', name: 'self-hosted', baseUrl: 'http://127.0.0.1:9/v1', models: ['qwen-plus'], keys: ['sk-self-hosted-000000001'] },
    })
    expect(res.statusCode).toBe(201)
    const items = await models()
    expect(items.find((m) => m.id === 'qwen-plus')).toMatchObject({ emulated: false, displayName: 'Qwen-Plus' })
    expect(items.find((m) => m.id === 'qwen-max')).toMatchObject({ emulated: true })
    expect((await t.inject({ method: 'DELETE', url: `/api/admin/providers/${res.json().id}`, headers: admin })).statusCode).toBe(204)
    expect((await models()).find((m) => m.id === 'qwen-plus')).toMatchObject({ emulated: true })
  })

  it('lets an admin edit and disable models, audited, and re-seeding keeps the edits', async () => {
    const edit = await t.inject({
      method: 'PATCH',
      url: '/api/admin/models/qwen-max',
      headers: admin,
      payload: { displayName: '通义千问 Max', prices: { inputPerMTok: 2_000_000 } },
    })
    expect(edit.statusCode).toBe(200)
    expect(edit.json()).toMatchObject({ displayName: '通义千问 Max', prices: { inputPerMTok: 2_000_000, outputPerMTok: 9_600_000 }, served: true, enabled: true })
    expect(edit.json().priceSource).toMatch(/^set by an admin, \d{4}-\d{2}-\d{2}$/)
    const off = await t.inject({ method: 'PATCH', url: '/api/admin/models/qwen-turbo', headers: admin, payload: { enabled: false } })
    expect(off.json()).toMatchObject({ enabled: false })
    expect((await models()).map((m) => m.id)).not.toContain('qwen-turbo')
    expect((await t.inject({ method: 'PATCH', url: '/api/admin/models/nope', headers: admin, payload: { enabled: false } })).statusCode).toBe(404)
    expect((await t.inject({ method: 'PATCH', url: '/api/admin/models/qwen-max', headers: admin, payload: { prices: { inputPerMTok: -1 } } })).statusCode).toBe(400)
    expect((await t.inject({ method: 'PATCH', url: '/api/admin/models/qwen-max', headers: admin, payload: { prices: { inputPerMTok: 1.5 } } })).statusCode).toBe(400)

    expect(await seedModelCatalog(t.deps.db)).toBe(0)
    const adminList = await t.inject({ method: 'GET', url: '/api/admin/models', headers: admin })
    const max = adminList.json().items.find((m: { id: string }) => m.id === 'qwen-max')
    expect(max).toMatchObject({ displayName: '通义千问 Max', prices: { inputPerMTok: 2_000_000 } })
    expect(adminList.json().items.find((m: { id: string }) => m.id === 'qwen-turbo')).toMatchObject({ enabled: false })
    const audits = await t.deps.db.kysely.selectFrom('auditLogs').selectAll().where('action', '=', 'model.updated').execute()
    expect(audits.map((a) => a.targetId)).toEqual(expect.arrayContaining(['qwen-max', 'qwen-turbo']))
    await t.inject({ method: 'PATCH', url: '/api/admin/models/qwen-turbo', headers: admin, payload: { enabled: true } })
  })
})
