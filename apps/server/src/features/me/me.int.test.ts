import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestApp, type TestApp } from '../../test/app'
import { bearer, registerUser, strongPassword } from '../auth/testing'

/** GET/PATCH /api/me and POST /api/me/password: SECURITY.md C6 and the password part of A6. */
describe('me', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await createTestApp()
  })
  afterAll(async () => {
    await t.close()
  })

  it('returns the account without hashes or key material', async () => {
    const account = await registerUser(t, { username: 'teapot_fan' })
    const res = await t.inject({ method: 'GET', url: '/api/me', headers: bearer(account.accessToken) })
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(body).toMatchObject({
      id: account.user.id,
      email: account.email,
      username: 'teapot_fan',
      role: 'user',
      balance: 0,
    })
    expect(Object.keys(body).sort()).toEqual(
      ['balance', 'createdAt', 'displayName', 'email', 'id', 'preferences', 'role', 'status', 'username'].sort(),
    )
    expect(res.body).not.toMatch(/\$2[aby]\$|passwordHash|tokenVersion|failedLogin/)
  })

  it('needs a signed-in caller', async () => {
    const res = await t.inject({ method: 'GET', url: '/api/me' })
    expect(res.statusCode).toBe(401)
    expect(res.json().error.code).toBe('UNAUTHENTICATED')
  })

  it('C6: refuses role, credits and email_verified in PATCH and changes nothing', async () => {
    const account = await registerUser(t)
    const attempts = [
      { role: 'admin', credits: 1e9, email_verified: true },
      { role: 'admin' },
      { balance: 1e9 },
      { displayName: 'Mallory', role: 'admin' },
      { preferences: { language: 'en', isAdmin: true } },
    ]
    for (const payload of attempts) {
      const res = await t.inject({ method: 'PATCH', url: '/api/me', headers: bearer(account.accessToken), payload })
      expect(res.statusCode).toBe(400)
      expect(res.json().error.code).toBe('VALIDATION_FAILED')
    }
    const row = await t.deps.db.kysely
      .selectFrom('users')
      .selectAll()
      .where('id', '=', account.user.id)
      .executeTakeFirstOrThrow()
    expect(row).toMatchObject({ role: 'user', balance: 0, displayName: null, preferences: '{}' })
    const admin = await t.inject({ method: 'GET', url: '/api/admin/users', headers: bearer(account.accessToken) })
    expect(admin.statusCode).toBe(403)
  })

  it('updates the display name and merges preferences', async () => {
    const account = await registerUser(t)
    const first = await t.inject({
      method: 'PATCH',
      url: '/api/me',
      headers: bearer(account.accessToken),
      payload: { displayName: '小桥', preferences: { language: 'zh-CN' } },
    })
    expect(first.statusCode).toBe(200)
    const second = await t.inject({
      method: 'PATCH',
      url: '/api/me',
      headers: bearer(account.accessToken),
      payload: { preferences: { theme: 'dark' } },
    })
    expect(second.json()).toMatchObject({ displayName: '小桥', preferences: { language: 'zh-CN', theme: 'dark' } })
  })

  it('A6: a password change needs the current password, keeps this session, ends the others, and is audited', async () => {
    const account = await registerUser(t)
    const other = await t.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { login: account.email, password: account.password },
    })
    const otherAccess = other.json().accessToken as string
    const newPassword = strongPassword()

    const wrong = await t.inject({
      method: 'POST',
      url: '/api/me/password',
      headers: bearer(account.accessToken),
      payload: { currentPassword: 'not-my-password', newPassword },
    })
    expect(wrong.statusCode).toBe(400)
    expect(wrong.json().error.code).toBe('VALIDATION_FAILED')
    expect((await t.inject({ method: 'GET', url: '/api/me', headers: bearer(otherAccess) })).statusCode).toBe(200)

    const weak = await t.inject({
      method: 'POST',
      url: '/api/me/password',
      headers: bearer(account.accessToken),
      payload: { currentPassword: account.password, newPassword: 'password123' },
    })
    expect(weak.json().error.code).toBe('PASSWORD_BREACHED')

    const ok = await t.inject({
      method: 'POST',
      url: '/api/me/password',
      headers: bearer(account.accessToken),
      payload: { currentPassword: account.password, newPassword },
    })
    expect(ok.statusCode).toBe(204)
    expect((await t.inject({ method: 'GET', url: '/api/me', headers: bearer(account.accessToken) })).statusCode).toBe(
      200,
    )
    expect((await t.inject({ method: 'GET', url: '/api/me', headers: bearer(otherAccess) })).statusCode).toBe(401)
    const refreshOther = await t.inject({
      method: 'POST',
      url: '/api/auth/refresh',
      payload: { refreshToken: other.json().refreshToken },
    })
    expect(refreshOther.statusCode).toBe(401)

    const oldLogin = await t.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { login: account.email, password: account.password },
    })
    expect(oldLogin.statusCode).toBe(401)
    const newLogin = await t.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { login: account.email, password: newPassword },
    })
    expect(newLogin.statusCode).toBe(200)

    const audits = await t.deps.db.kysely
      .selectFrom('auditLogs')
      .select(['action', 'details'])
      .where('actorId', '=', account.user.id)
      .where('action', 'in', ['auth.password_changed', 'auth.password_change_failed'])
      .execute()
    expect(audits.map((a) => a.action).sort()).toEqual(['auth.password_change_failed', 'auth.password_changed'])
    expect(JSON.stringify(audits)).not.toContain(newPassword)
  })
})
