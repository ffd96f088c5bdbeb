import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestApp, type TestApp } from '../../test/app'
import { bearer, promote, registerUser, type TestAccount } from '../auth/testing'

/** The admin audit-log viewer and the recorder's secret scrubbing. */
describe('audit log', () => {
  let t: TestApp
  let admin: TestAccount
  beforeAll(async () => {
    t = await createTestApp()
    admin = await registerUser(t)
    await promote(t, admin.user.id)
  })
  afterAll(async () => {
    await t.close()
  })

  const get = (query: string, token = admin.accessToken) =>
    t.inject({ method: 'GET', url: `/api/admin/audit-logs?${query}`, headers: bearer(token) })

  it('lists entries newest first, filters by action and actor, and pages', async () => {
    const user = await registerUser(t)
    await t.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { login: user.email, password: 'wrong-password-z' },
    })
    await t.inject({ method: 'POST', url: '/api/auth/login', payload: { login: user.email, password: user.password } })

    const all = await get('limit=100')
    expect(all.statusCode).toBe(200)
    const ids = all.json().items.map((i: { id: string }) => i.id)
    expect([...ids].sort().reverse()).toEqual(ids)

    const failed = await get('action=auth.login_failed')
    expect(failed.json().items).toHaveLength(1)
    expect(failed.json().items[0]).toMatchObject({
      action: 'auth.login_failed',
      targetId: user.user.id,
      severity: 'warning',
    })
    expect(failed.body).not.toContain('wrong-password-z')

    const mine = await get(`actorId=${user.user.id}`)
    expect(
      mine
        .json()
        .items.map((i: { action: string }) => i.action)
        .sort(),
    ).toEqual(['auth.login', 'auth.register'])

    const page1 = await get('limit=2')
    const page2 = await get(`limit=2&cursor=${page1.json().nextCursor}`)
    expect(page2.json().items[0].id < page1.json().items[1].id).toBe(true)
  })

  it('is admin-only', async () => {
    const user = await registerUser(t)
    expect((await get('', user.accessToken)).statusCode).toBe(403)
    expect((await t.inject({ method: 'GET', url: '/api/admin/audit-logs' })).statusCode).toBe(401)
  })

  it('scrubs secret-looking fields a caller passes by mistake', async () => {
    await t.app.services.audit.record({
      actorId: admin.user.id,
      action: 'test.scrub',
      details: { password: 'hunter2-secret', nested: { refreshToken: 'rt-value', note: 'kept' } },
    })
    const res = await get('action=test.scrub')
    expect(res.json().items[0].details).toEqual({
      password: '[redacted]',
      nested: { refreshToken: '[redacted]', note: 'kept' },
    })
  })
})
