import { DEFAULT_SETTINGS } from '@qiao/shared'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestApp, type TestApp } from '../../test/app'
import { testDialects } from '../../test/services'
import { bearer, promote, registerUser, strongPassword, type TestAccount } from '../auth/testing'

/**
 * Platform settings: admin-only, strictly validated (SECURITY.md D4), audited with before/after;
 * registration closes at once (REGISTRATION_CLOSED) and the sign-up credit goes through the
 * ledger. On every dialect.
 */
describe.each(testDialects())('platform settings on %s', (dialect) => {
  let t: TestApp
  let admin: TestAccount
  beforeAll(async () => {
    t = await createTestApp({ dialect })
    admin = await registerUser(t)
    await promote(t, admin.user.id)
  })
  afterAll(async () => {
    await t.close()
  })

  const get = (token = admin.accessToken) =>
    t.inject({ method: 'GET', url: '/api/admin/settings', headers: bearer(token) })
  const patch = (payload: unknown, token = admin.accessToken) =>
    t.inject({
      method: 'PATCH',
      url: '/api/admin/settings',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    })
  const register = (ip: string) =>
    t.inject({
      method: 'POST',
      url: '/api/auth/register',
      payload: { email: `s${Math.random().toString(36).slice(2)}@example.com`, password: strongPassword() },
      remoteAddress: ip,
    })

  it('starts from the documented defaults', async () => {
    const res = await get()
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual(DEFAULT_SETTINGS)
    expect(await t.app.services.settings.get()).toEqual(DEFAULT_SETTINGS)
  })

  it('is for admins only', async () => {
    const user = await registerUser(t)
    expect((await get(user.accessToken)).statusCode).toBe(403)
    const res = await patch({ registrationOpen: false }, user.accessToken)
    expect(res.statusCode).toBe(403)
    expect((await get()).json().registrationOpen).toBe(true)
  })

  it('merges rate limits key by key, persists, audits before/after, and the service sees it at once', async () => {
    // Warm the per-instance cache first: the write must invalidate it.
    expect((await t.app.services.settings.get()).rateLimits.userRpm).toBe(DEFAULT_SETTINGS.rateLimits.userRpm)
    const res = await patch({ rateLimits: { userRpm: 7 }, logRetentionDays: 30 })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({
      ...DEFAULT_SETTINGS,
      rateLimits: { ...DEFAULT_SETTINGS.rateLimits, userRpm: 7 },
      logRetentionDays: 30,
    })
    expect((await t.app.services.settings.get()).rateLimits).toEqual({ ...DEFAULT_SETTINGS.rateLimits, userRpm: 7 })
    expect((await get()).json().logRetentionDays).toBe(30)
    const second = await patch({ rateLimits: { keyTpm: 1000 } })
    expect(second.json().rateLimits).toMatchObject({ userRpm: 7, keyTpm: 1000 })

    const audit = await t.deps.db.kysely
      .selectFrom('auditLogs')
      .selectAll()
      .where('action', '=', 'settings.updated')
      .orderBy('id')
      .executeTakeFirstOrThrow()
    expect(audit).toMatchObject({ actorId: admin.user.id, severity: 'warning' })
    const details = JSON.parse(audit.details!)
    expect(details.before).toEqual({ rateLimits: DEFAULT_SETTINGS.rateLimits, logRetentionDays: 180 })
    expect(details.after).toEqual({ rateLimits: { ...DEFAULT_SETTINGS.rateLimits, userRpm: 7 }, logRetentionDays: 30 })
    await patch({ rateLimits: DEFAULT_SETTINGS.rateLimits, logRetentionDays: 180 })
  })

  it('D4: refuses prototype keys, unknown keys, strings, fractions and out-of-range numbers', async () => {
    const before = (await get()).json()
    const bad: unknown[] = [
      '{"__proto__": {"registrationOpen": false, "isAdmin": true}}',
      '{"rateLimits": {"__proto__": {"userRpm": 1}}}',
      '{"constructor": {"prototype": {"isAdmin": true}}}',
      { registrationOpen: 'false' },
      { registrationOpen: 0 },
      { defaultBalance: '1e9' },
      { defaultBalance: -5 },
      { defaultBalance: 1.5 },
      { defaultBalance: 1e308 },
      { defaultBalance: 1_000_000_000_001 },
      { rateLimits: { userRpm: 0 } },
      { rateLimits: { userRpm: 2.5 } },
      { rateLimits: { userRpm: '60' } },
      { rateLimits: { unknownLimit: 5 } },
      { logRetentionDays: 0 },
      { logRetentionDays: 99_999 },
      { maintenance: true },
      '{"defaultBalance": NaN}',
    ]
    for (const payload of bad) {
      const res = await patch(payload)
      // `__proto__` is stripped by the JSON parser; what remains (an empty object) changes nothing.
      expect([200, 400], JSON.stringify(payload)).toContain(res.statusCode)
      if (res.statusCode === 200) expect(res.json()).toEqual(before)
    }
    // Everything except the stripped prototype keys is a 400.
    for (const payload of bad.slice(3)) expect((await patch(payload)).statusCode, JSON.stringify(payload)).toBe(400)
    expect((await get()).json()).toEqual(before)
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined()
    expect(({} as Record<string, unknown>).registrationOpen).toBeUndefined()
    expect(({} as Record<string, unknown>).userRpm).toBeUndefined()
  })

  it('closes and reopens registration at once (REGISTRATION_CLOSED)', async () => {
    // Cache warm with "open": closing must still apply to the very next sign-up.
    await t.app.services.settings.get()
    expect((await patch({ registrationOpen: false })).statusCode).toBe(200)
    const closed = await register('198.51.100.10')
    expect(closed.statusCode).toBe(403)
    expect(closed.json().error.code).toBe('REGISTRATION_CLOSED')
    expect((await patch({ registrationOpen: true })).statusCode).toBe(200)
    expect((await register('198.51.100.11')).statusCode).toBe(201)
  })

  it('grants the default balance to new accounts through the ledger, once', async () => {
    expect((await patch({ defaultBalance: 2_000_000 })).statusCode).toBe(200)
    const res = await register('198.51.100.12')
    expect(res.statusCode).toBe(201)
    const { user, accessToken } = res.json()
    expect(user.balance).toBe(2_000_000)
    const balance = await t.inject({ method: 'GET', url: '/api/billing/balance', headers: bearer(accessToken) })
    expect(balance.json()).toEqual({ balance: 2_000_000, reserved: 0, available: 2_000_000 })
    const ledger = await t.inject({ method: 'GET', url: '/api/billing/ledger', headers: bearer(accessToken) })
    expect(ledger.json().items).toEqual([
      expect.objectContaining({ delta: 2_000_000, balanceAfter: 2_000_000, reason: 'signup', ref: `signup:${user.id}` }),
    ])
    // A replay of the grant (same ref) adds nothing.
    const replay = await t.app.services.billing.credit({
      userId: user.id,
      delta: 2_000_000,
      reason: 'signup',
      ref: `signup:${user.id}`,
    })
    expect(replay.replayed).toBe(true)
    const after = await t.inject({ method: 'GET', url: '/api/billing/balance', headers: bearer(accessToken) })
    expect(after.json().balance).toBe(2_000_000)

    expect((await patch({ defaultBalance: 0 })).statusCode).toBe(200)
    const plain = await register('198.51.100.13')
    expect(plain.json().user.balance).toBe(0)
    const none = await t.inject({ method: 'GET', url: '/api/billing/ledger', headers: bearer(plain.json().accessToken) })
    expect(none.json().items).toEqual([])
  })

  it('falls back to the default for an invalid stored value instead of failing', async () => {
    await t.deps.db.kysely.deleteFrom('settings').where('key', '=', 'logRetentionDays').execute()
    await t.deps.db.kysely
      .insertInto('settings')
      .values({ key: 'logRetentionDays', value: '"forever"', updatedAt: new Date().toISOString(), updatedBy: null })
      .execute()
    t.app.services.settings.invalidate()
    expect((await t.app.services.settings.get()).logRetentionDays).toBe(180)
    expect(t.logs.text).toContain('ignoring an invalid settings row')
    await t.deps.db.kysely.deleteFrom('settings').where('key', '=', 'logRetentionDays').execute()
    t.app.services.settings.invalidate()
  })
})
