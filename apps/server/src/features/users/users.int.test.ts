import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestApp, type TestApp } from '../../test/app'
import { testDialects } from '../../test/services'
import { newId } from '../../ids'
import { bearer, promote, registerUser, type TestAccount } from '../auth/testing'

/** Admin user management: list/search, role changes, disabling (SECURITY.md A6) — on every dialect. */
describe.each(testDialects())('admin users on %s', (dialect) => {
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

  const patch = (id: string, payload: object, token = admin.accessToken) =>
    t.inject({ method: 'PATCH', url: `/api/admin/users/${id}`, headers: bearer(token), payload })
  const list = (query: string) =>
    t.inject({ method: 'GET', url: `/api/admin/users?${query}`, headers: bearer(admin.accessToken) })

  it('lists, searches (wildcards literal) and pages through users, newest first, with usage totals', async () => {
    const tag = newId().slice(-8)
    const a = await registerUser(t, { email: `alpha_${tag}@example.com` })
    const b = await registerUser(t, { email: `beta%${tag}@example.com`.replace('%', 'x'), username: `Beta_${tag}` })
    const found = await list(`q=${encodeURIComponent(`ALPHA_${tag}`)}`)
    expect(found.statusCode).toBe(200)
    expect(found.json().items.map((u: { id: string }) => u.id)).toEqual([a.user.id])
    expect(found.json().items[0].usage).toEqual({ calls: 0, cost: 0 })
    expect(found.body).not.toMatch(/\$2[aby]\$|passwordHash/)
    // `%` and `_` match themselves only: `_` is not "any character" (alphax… does not match alpha_…).
    expect((await list('q=%25')).json().items).toEqual([])
    expect((await list(`q=${encodeURIComponent(`alph__${tag}`)}`)).json().items).toEqual([])
    expect((await list(`q=${encodeURIComponent(`ha_${tag}`)}`)).json().items.map((u: { id: string }) => u.id)).toEqual([
      a.user.id,
    ])
    expect((await list(`q=beta_${tag}`)).json().items.map((u: { id: string }) => u.id)).toEqual([b.user.id])

    const page1 = await list('limit=1')
    expect(page1.json().items).toHaveLength(1)
    expect(page1.json().items[0].id).toBe(b.user.id)
    const page2 = await list(`limit=1&cursor=${page1.json().nextCursor}`)
    expect(page2.json().items[0].id).toBe(a.user.id)

    const admins = await list('role=admin')
    expect(admins.json().items.map((u: { id: string }) => u.id)).toEqual([admin.user.id])
  })

  it('changes a role (audited) and the new role applies on the next request', async () => {
    const user = await registerUser(t)
    expect(
      (await t.inject({ method: 'GET', url: '/api/admin/users', headers: bearer(user.accessToken) })).statusCode,
    ).toBe(403)
    const res = await patch(user.user.id, { role: 'admin' })
    expect(res.statusCode).toBe(200)
    expect(res.json().role).toBe('admin')
    expect(
      (await t.inject({ method: 'GET', url: '/api/admin/users', headers: bearer(user.accessToken) })).statusCode,
    ).toBe(200)
    const audit = await t.deps.db.kysely
      .selectFrom('auditLogs')
      .selectAll()
      .where('action', '=', 'user.role_changed')
      .where('targetId', '=', user.user.id)
      .executeTakeFirstOrThrow()
    expect(audit.actorId).toBe(admin.user.id)
    expect(JSON.parse(audit.details!)).toEqual({ from: 'user', to: 'admin' })
    await patch(user.user.id, { role: 'user' })
    expect(
      (await t.inject({ method: 'GET', url: '/api/admin/users', headers: bearer(user.accessToken) })).statusCode,
    ).toBe(403)
  })

  it('A6: disabling kills the refresh token and API keys at once and the access token on its next request', async () => {
    const user = await registerUser(t)
    const second = await t.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { login: user.email, password: user.password },
    })
    const now = new Date().toISOString()
    await t.deps.db.kysely
      .insertInto('apiKeys')
      .values({
        id: newId(),
        userId: user.user.id,
        name: 'k',
        prefix: `sk-qiao-${newId().slice(-8)}`,
        keyHash: 'f'.repeat(64),
        allowedModels: null,
        monthlyLimit: null,
        status: 'active',
        expiresAt: null,
        lastUsedAt: null,
        createdAt: now,
        revokedAt: null,
      })
      .execute()
    expect((await t.inject({ method: 'GET', url: '/api/me', headers: bearer(user.accessToken) })).statusCode).toBe(200)

    const res = await patch(user.user.id, { status: 'disabled' })
    expect(res.statusCode).toBe(200)
    expect(res.json().status).toBe('disabled')

    const me = await t.inject({ method: 'GET', url: '/api/me', headers: bearer(user.accessToken) })
    expect(me.statusCode).toBe(401)
    expect(
      (await t.inject({ method: 'GET', url: '/api/me', headers: bearer(second.json().accessToken) })).statusCode,
    ).toBe(401)
    for (const token of [user.refreshToken, second.json().refreshToken as string]) {
      expect(
        (await t.inject({ method: 'POST', url: '/api/auth/refresh', payload: { refreshToken: token } })).statusCode,
      ).toBe(401)
    }
    const loginAgain = await t.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { login: user.email, password: user.password },
    })
    expect(loginAgain.statusCode).toBe(401)
    expect(loginAgain.json().error.code).toBe('ACCOUNT_DISABLED')
    const keys = await t.deps.db.kysely
      .selectFrom('apiKeys')
      .select('status')
      .where('userId', '=', user.user.id)
      .execute()
    expect(keys.map((k) => k.status)).toEqual(['revoked'])
    const tokens = await t.deps.db.kysely
      .selectFrom('refreshTokens')
      .select('status')
      .where('userId', '=', user.user.id)
      .execute()
    expect(tokens.every((r) => r.status === 'revoked')).toBe(true)

    // Re-enabling does not resurrect old sessions; a fresh login works.
    await patch(user.user.id, { status: 'active' })
    expect((await t.inject({ method: 'GET', url: '/api/me', headers: bearer(user.accessToken) })).statusCode).toBe(401)
    const fresh = await t.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { login: user.email, password: user.password },
    })
    expect(fresh.statusCode).toBe(200)
  })

  it('refuses to let an admin demote or disable themselves, and 404s unknown ids', async () => {
    expect((await patch(admin.user.id, { role: 'user' })).statusCode).toBe(409)
    expect((await patch(admin.user.id, { status: 'disabled' })).statusCode).toBe(409)
    expect((await patch(newId(), { role: 'admin' })).statusCode).toBe(404)
    expect((await patch(admin.user.id, { role: 'admin', balance: 5 })).statusCode).toBe(400)
  })
})
