import { afterEach, describe, expect, it, vi } from 'vitest'
import { loadConfig } from '../../config'
import { createTestApp, type TestApp } from '../../test/app'
import { bootstrapAdmin } from './bootstrap'

/** SECURITY.md A5: no account with a known password; the first admin comes from a one-time secret. */
describe('admin bootstrap', () => {
  let t: TestApp | undefined
  afterEach(async () => {
    vi.restoreAllMocks()
    await t?.close()
    t = undefined
  })

  const login = (app: TestApp, login: string, password: string) =>
    app.inject({ method: 'POST', url: '/api/auth/login', payload: { login, password } })

  it('creates the admin with a random password printed once to the console, and never again', async () => {
    t = await createTestApp()
    expect(await t.deps.db.kysely.selectFrom('users').select('id').execute()).toHaveLength(0)
    const printed: string[] = []
    vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
      printed.push(args.map(String).join(' '))
    })

    await bootstrapAdmin(t.app, t.deps)
    expect(printed).toHaveLength(1)
    const password = /password: (\S+)/.exec(printed[0]!)![1]!
    expect(password).toHaveLength(20)
    expect(printed[0]).toContain('admin@qiao.local')
    // The password goes to the console banner only, never into structured logs.
    expect(t.logs.text).not.toContain(password)

    const res = await login(t, 'admin@qiao.local', password)
    expect(res.statusCode).toBe(200)
    expect(res.json().user.role).toBe('admin')
    // No well-known password works.
    for (const guess of ['admin', 'admin123', 'password', 'changeme', 'qiao']) {
      expect((await login(t, 'admin@qiao.local', guess)).statusCode).toBe(401)
    }

    await bootstrapAdmin(t.app, t.deps)
    expect(printed).toHaveLength(1)
    const admins = await t.deps.db.kysely.selectFrom('users').select('id').where('role', '=', 'admin').execute()
    expect(admins).toHaveLength(1)
  })

  it('uses QIAO_ADMIN_EMAIL / QIAO_ADMIN_PASSWORD when set, printing nothing', async () => {
    t = await createTestApp({
      env: { QIAO_ADMIN_EMAIL: 'Boss@Example.com', QIAO_ADMIN_PASSWORD: 'tea-kettle-harbour-91' },
    })
    const log = vi.spyOn(console, 'log').mockImplementation(() => {})
    await bootstrapAdmin(t.app, t.deps)
    expect(log).not.toHaveBeenCalled()
    const res = await login(t, 'boss@example.com', 'tea-kettle-harbour-91')
    expect(res.statusCode).toBe(200)
    expect(res.json().user.role).toBe('admin')
  })

  it('does nothing when an admin already exists', async () => {
    t = await createTestApp()
    const log = vi.spyOn(console, 'log').mockImplementation(() => {})
    await bootstrapAdmin(t.app, t.deps)
    await t.deps.db.kysely.updateTable('users').set({ email: 'renamed@example.com' }).execute()
    await bootstrapAdmin(t.app, t.deps)
    expect(log).toHaveBeenCalledTimes(1)
    expect(await t.deps.db.kysely.selectFrom('users').select('id').execute()).toHaveLength(1)
  })

  it('refuses a common password for the configured admin', async () => {
    t = await createTestApp({ env: { QIAO_ADMIN_EMAIL: 'boss@example.com', QIAO_ADMIN_PASSWORD: 'password1234' } })
    await expect(bootstrapAdmin(t.app, t.deps)).rejects.toThrow(/too common/)
    expect(await t.deps.db.kysely.selectFrom('users').select('id').execute()).toHaveLength(0)
  })

  it('refuses to boot in production without keys, or with an example admin password', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/QIAO_JWT_PRIVATE_KEY/)
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/QIAO_MASTER_KEY/)
    expect(() =>
      loadConfig({
        NODE_ENV: 'production',
        QIAO_JWT_PRIVATE_KEY: 'x',
        QIAO_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'),
        QIAO_ADMIN_PASSWORD: 'changeme-please-now',
      }),
    ).toThrow(/QIAO_ADMIN_PASSWORD/)
  })
})
