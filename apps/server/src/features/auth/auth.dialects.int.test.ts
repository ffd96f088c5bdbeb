import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestApp, type TestApp } from '../../test/app'
import { testDialects } from '../../test/services'
import { newId } from '../../ids'
import { createAuthRepo } from './auth.repo'
import { hashRefreshToken } from './tokens'
import { bearer, registerUser, strongPassword } from './testing'

/** Refresh rotation, reuse detection, races and account uniqueness on SQLite, MariaDB and PostgreSQL. */
describe.each(testDialects())('accounts on %s', (dialect) => {
  let t: TestApp
  beforeAll(async () => {
    t = await createTestApp({ dialect })
  })
  afterAll(async () => {
    await t.close()
  })

  const refresh = (token: string) =>
    t.inject({ method: 'POST', url: '/api/auth/refresh', payload: { refreshToken: token } })
  const me = (token: string) => t.inject({ method: 'GET', url: '/api/me', headers: bearer(token) })

  it('rotates refresh tokens and revokes the family on reuse', async () => {
    const account = await registerUser(t)
    expect((await me(account.accessToken)).statusCode).toBe(200)
    const second = await refresh(account.refreshToken)
    expect(second.statusCode).toBe(200)
    const third = await refresh(second.json().refreshToken)
    expect(third.statusCode).toBe(200)
    expect((await me(third.json().accessToken)).statusCode).toBe(200)

    const replay = await refresh(second.json().refreshToken)
    expect(replay.statusCode).toBe(401)
    expect(replay.json().error.code).toBe('AUTH_TOKEN_REUSED')
    expect((await refresh(third.json().refreshToken)).statusCode).toBe(401)
    expect((await me(third.json().accessToken)).statusCode).toBe(401)
    const rows = await t.deps.db.kysely
      .selectFrom('refreshTokens')
      .select('status')
      .where('userId', '=', account.user.id)
      .execute()
    expect(rows.map((r) => r.status)).toEqual(['revoked', 'revoked', 'revoked'])
  })

  it('lets exactly one of several concurrent refreshes of one token win', async () => {
    const account = await registerUser(t)
    const results = await Promise.all(Array.from({ length: 6 }, () => refresh(account.refreshToken)))
    const statuses = results.map((r) => r.statusCode)
    expect(statuses.filter((s) => s === 200)).toHaveLength(1)
    expect(statuses.filter((s) => s === 401)).toHaveLength(5)
    // A loser that reads after the winner committed looks exactly like a replay and may revoke the
    // family; what must never happen is two live successors.
    const active = await t.deps.db.kysely
      .selectFrom('refreshTokens')
      .select('id')
      .where('userId', '=', account.user.id)
      .where('status', '=', 'active')
      .execute()
    expect(active.length).toBeLessThanOrEqual(1)
    const successors = await t.deps.db.kysely
      .selectFrom('refreshTokens')
      .select('id')
      .where('userId', '=', account.user.id)
      .execute()
    expect(successors).toHaveLength(2)
  })

  it('rotateRefreshToken is a conditional update: one winner among concurrent calls', async () => {
    const account = await registerUser(t)
    const repo = createAuthRepo(t.deps.db)
    const old = await repo.findRefreshTokenByHash(hashRefreshToken(account.refreshToken))
    const at = new Date().toISOString()
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        repo.rotateRefreshToken(old!.id, {
          ...old!,
          id: newId(),
          tokenHash: hashRefreshToken(`next-${i}-${account.refreshToken}`),
          status: 'active',
          createdAt: at,
          lastUsedAt: at,
        }),
      ),
    )
    expect(outcomes.filter(Boolean)).toHaveLength(1)
  })

  it('creates one account when the same email registers concurrently; the rest get EMAIL_TAKEN', async () => {
    const email = `race-${newId().slice(-8)}@example.com`
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        t.inject({
          method: 'POST',
          url: '/api/auth/register',
          remoteAddress: `198.19.0.${i + 1}`,
          payload: { email, password: strongPassword() },
        }),
      ),
    )
    const statuses = results.map((r) => r.statusCode)
    expect(statuses.filter((s) => s === 201)).toHaveLength(1)
    for (const r of results.filter((x) => x.statusCode !== 201)) {
      expect(r.statusCode).toBe(409)
      expect(r.json().error.code).toBe('EMAIL_TAKEN')
    }
    const rows = await t.deps.db.kysely.selectFrom('users').select('id').where('email', '=', email).execute()
    expect(rows).toHaveLength(1)
  })

  it('treats emails and usernames case-insensitively for uniqueness', async () => {
    const tag = newId().slice(-8)
    await registerUser(t, { email: `case-${tag}@example.com`, username: `Case_${tag}` })
    const sameEmail = await t.inject({
      method: 'POST',
      url: '/api/auth/register',
      payload: { email: `CASE-${tag}@Example.com`, password: strongPassword() },
    })
    expect(sameEmail.statusCode).toBe(409)
    expect(sameEmail.json().error.code).toBe('EMAIL_TAKEN')
    const sameName = await t.inject({
      method: 'POST',
      url: '/api/auth/register',
      payload: { email: `other-${tag}@example.com`, username: `CASE_${tag}`, password: strongPassword() },
    })
    expect(sameName.statusCode).toBe(409)
    expect(sameName.json().error.code).toBe('USERNAME_TAKEN')
  })

  it('revokes a session and every other session on password change', async () => {
    const account = await registerUser(t)
    const other = await t.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { login: account.email, password: account.password },
    })
    expect(other.statusCode).toBe(200)
    const change = await t.inject({
      method: 'POST',
      url: '/api/me/password',
      headers: bearer(account.accessToken),
      payload: { currentPassword: account.password, newPassword: strongPassword() },
    })
    expect(change.statusCode).toBe(204)
    expect((await me(account.accessToken)).statusCode).toBe(200)
    expect((await me(other.json().accessToken)).statusCode).toBe(401)
    expect((await refresh(other.json().refreshToken)).statusCode).toBe(401)
  })
})
