import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../config'
import type { AppDeps } from '../context'
import { createVault, providerKeyAad } from '../platform/vault'
import { createTestApp, type TestApp } from '../test/app'
import { testDialects } from '../test/services'
import { MODEL_CATALOG, seedModelCatalog, seedProviders, shouldRunEmulator } from './seed'

describe('model catalog seed data', () => {
  it('says where every price came from, how sure it is and when', () => {
    for (const m of MODEL_CATALOG) {
      expect(m.priceSource, m.id).toMatch(/^\[(U|P|V)\] protocols\/README\.md §9: .+; 2026-11$/)
      const priced = m.kind === 'image' ? m.imagePrice : m.inputPrice
      expect(Number.isInteger(priced), m.id).toBe(true)
    }
    expect(MODEL_CATALOG.find((m) => m.id === 'qwen-plus')).toMatchObject({ inputPrice: 800_000, outputPrice: 2_000_000 })
    expect(new Set(MODEL_CATALOG.map((m) => m.id)).size).toBe(MODEL_CATALOG.length)
  })

  it('runs the emulator only when asked to or when no provider key is set', () => {
    const base = { NODE_ENV: 'test', QIAO_DATA_DIR: '/tmp/qiao-unused' }
    expect(shouldRunEmulator(loadConfig(base))).toBe(true)
    expect(shouldRunEmulator(loadConfig({ ...base, MOONSHOT_API_KEY: 'sk-x' }))).toBe(false)
    expect(shouldRunEmulator(loadConfig({ ...base, MOONSHOT_API_KEY: 'sk-x', QIAO_EMULATOR: 'on' }))).toBe(true)
    expect(shouldRunEmulator(loadConfig({ ...base, QIAO_EMULATOR: 'off' }))).toBe(false)
  })
})

describe.each(testDialects())('provider seeding on %s', (dialect) => {
  let t: TestApp
  beforeAll(async () => {
    t = await createTestApp({ dialect })
  })
  afterAll(async () => {
    await t.close()
  })
  const withEnv = (env: Record<string, string>): AppDeps => ({
    ...t.deps,
    config: loadConfig({ NODE_ENV: 'test', QIAO_DATA_DIR: t.testDb.dataDir, ...env }),
  })
  const channels = () => t.deps.db.kysely.selectFrom('providerChannels').selectAll().orderBy('createdAt').execute()
  const keysOf = (channelId: string) => t.deps.db.kysely.selectFrom('providerKeys').selectAll().where('channelId', '=', channelId).execute()
  const flags = async () =>
    Object.fromEntries((await t.deps.db.kysely.selectFrom('models').select(['id', 'emulated']).execute()).map((m) => [m.id, m.emulated]))

  it('inserts the catalog once and only fills in missing rows', async () => {
    expect(await seedModelCatalog(t.deps.db)).toBe(MODEL_CATALOG.length)
    await t.deps.db.kysely.deleteFrom('models').where('id', '=', 'qwen-max').execute()
    await t.deps.db.kysely.updateTable('models').set({ displayName: 'Edited' }).where('id', '=', 'qwen-plus').execute()
    expect(await seedModelCatalog(t.deps.db)).toBe(1)
    const plus = await t.deps.db.kysely.selectFrom('models').select('displayName').where('id', '=', 'qwen-plus').executeTakeFirstOrThrow()
    expect(plus.displayName).toBe('Edited')
  })

  it('seeds emulator channels without keys, then hands over to env channels when keys appear', async () => {
    const emulator = await seedProviders(withEnv({ QIAO_EMULATOR: 'auto' }))
    expect(emulator).toBeDefined()
    let rows = await channels()
    expect(rows.map((c) => [c.source, c.type, c.enabled, c.emulated])).toEqual([
      ['emulator', 'dashscope', 1, 1],
      ['emulator', 'moonshot', 1, 1],
    ])
    expect(rows[0]!.baseUrl).toBe(emulator!.url)
    expect(rows[1]!.baseUrl).toBe(emulator!.moonshotUrl)
    expect(Object.values(await flags()).every((f) => f === 1)).toBe(true)
    const emuKey = (await keysOf(rows[0]!.id))[0]!
    expect(emuKey.hint).toMatch(/^sk-…/)
    await emulator!.close()

    // A DashScope key appears: the env channel serves DashScope models for real; the emulator is off.
    const dashKey = 'sk-real-dashscope-key-0001aa'
    expect(await seedProviders(withEnv({ DASHSCOPE_API_KEY: dashKey }))).toBeUndefined()
    rows = await channels()
    const env = rows.find((c) => c.source === 'env')!
    expect(env).toMatchObject({ type: 'dashscope', baseUrl: 'https://dashscope.aliyuncs.com', enabled: 1, emulated: 0 })
    expect(rows.filter((c) => c.source === 'emulator').every((c) => c.enabled === 0)).toBe(true)
    const f = await flags()
    expect(f['qwen-plus']).toBe(0)
    expect(f['moonshot-v1-8k']).toBe(0)
    const vault = createVault(t.deps.masterKeys)
    const [k1] = await keysOf(env.id)
    expect(vault.decrypt(k1!, providerKeyAad(k1!.id))).toBe(dashKey)
    expect(k1!.hint).toBe('sk-…01aa')

    // Same key again: untouched. A changed key: replaced.
    await seedProviders(withEnv({ DASHSCOPE_API_KEY: dashKey }))
    expect((await keysOf(env.id)).map((k) => k.id)).toEqual([k1!.id])
    await seedProviders(withEnv({ DASHSCOPE_API_KEY: 'sk-rotated-dashscope-key-02bb', DASHSCOPE_BASE_URL: 'https://dashscope-intl.aliyuncs.com/' }))
    const replaced = await keysOf(env.id)
    expect(replaced).toHaveLength(1)
    expect(replaced[0]!.hint).toBe('sk-…02bb')
    expect((await channels()).find((c) => c.id === env.id)!.baseUrl).toBe('https://dashscope-intl.aliyuncs.com')

    // The key is removed from the environment: its channel is disabled; no key at all → emulator again.
    const again = await seedProviders(withEnv({}))
    expect((await channels()).find((c) => c.id === env.id)!.enabled).toBe(0)
    expect((await channels()).filter((c) => c.source === 'emulator').every((c) => c.enabled === 1)).toBe(true)
    expect((await flags())['qwen-plus']).toBe(1)
    await again!.close()
  })
})
