import { createHmac, generateKeyPairSync } from 'node:crypto'
import { exportJWK, SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestApp, testJwtKeys, type TestApp } from '../../test/app'
import { keyIdOf } from '../../platform/keys'
import { bearer, registerUser, strongPassword } from './testing'
import { LOGIN_LIMITS } from './auth.service'

/** Auth over HTTP on SQLite: SECURITY.md A1–A4, B1, B3–B6. Dialect-specific checks are in auth.dialects.int.test.ts. */

const b64url = (v: object | string) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url')

let clock = new Date('2026-03-01T08:00:00.000Z')
let t: TestApp

beforeAll(async () => {
  t = await createTestApp({ deps: { now: () => clock } })
})
afterAll(async () => {
  await t.close()
})

const login = (loginName: string, password: string, ip = '127.0.0.1') =>
  t.inject({ method: 'POST', url: '/api/auth/login', payload: { login: loginName, password }, remoteAddress: ip })

const me = (token: string) => t.inject({ method: 'GET', url: '/api/me', headers: bearer(token) })

describe('A1 password length', () => {
  it('refuses a 7-character password with PASSWORD_TOO_SHORT and creates no row', async () => {
    const res = await t.inject({
      method: 'POST',
      url: '/api/auth/register',
      payload: { email: 'short@example.com', password: 'Ab3$xyz' },
    })
    expect(res.statusCode).toBe(400)
    expect(res.json().error.code).toBe('PASSWORD_TOO_SHORT')
    const row = await t.deps.db.kysely
      .selectFrom('users')
      .select('id')
      .where('email', '=', 'short@example.com')
      .executeTakeFirst()
    expect(row).toBeUndefined()
  })

  it('refuses 129 characters with PASSWORD_TOO_LONG', async () => {
    const res = await t.inject({
      method: 'POST',
      url: '/api/auth/register',
      payload: { email: 'long@example.com', password: 'x7'.repeat(64) + 'q' },
    })
    expect(res.statusCode).toBe(400)
    expect(res.json().error.code).toBe('PASSWORD_TOO_LONG')
  })

  it.each([
    ['8 characters', 'kq7vzm2p'],
    ['64 characters', 'Zt9'.repeat(21) + 'w'],
    ['Unicode with spaces', '我的 密码 是 桥梁 ✓ ok'],
    ['all lower-case', 'riverbridgeteapot'],
    ['128 characters', 'a1b2c3d4'.repeat(16)],
  ])('accepts %s and logs in exactly as typed', async (_label, password) => {
    const account = await registerUser(t, { password })
    expect(account.user.email).toBe(account.email)
    expect((await login(account.email, password)).statusCode).toBe(200)
    expect((await login(account.email, password + ' ')).statusCode).toBe(401)
  })

  it('counts characters, not bytes: 8 Chinese characters are enough', async () => {
    const account = await registerUser(t, { password: '桥梁连接人与模型啊' })
    expect((await login(account.email, '桥梁连接人与模型啊')).statusCode).toBe(200)
  })
})

describe('A2 common passwords', () => {
  it.each(['password', 'iloveyou', 'Password1', '12345678', 'qwertyuiop'])(
    'refuses %s with PASSWORD_BREACHED and creates no row',
    async (password) => {
      const email = `breach-${password.toLowerCase()}@example.com`
      const res = await t.inject({ method: 'POST', url: '/api/auth/register', payload: { email, password } })
      expect(res.statusCode).toBe(400)
      expect(res.json().error.code).toBe('PASSWORD_BREACHED')
      const row = await t.deps.db.kysely.selectFrom('users').select('id').where('email', '=', email).executeTakeFirst()
      expect(row).toBeUndefined()
    },
  )
})

describe('A3 long passwords and hash cost', () => {
  it('never truncates: the same first 72 bytes with another tail does not log in', async () => {
    const head = 'k'.repeat(36) + '桥'.repeat(12) // 36 + 36 bytes = exactly 72 bytes of UTF-8
    expect(Buffer.byteLength(head)).toBe(72)
    const account = await registerUser(t, { password: head + 'first-tail' })
    expect((await login(account.email, head + 'first-tail')).statusCode).toBe(200)
    const wrong = await login(account.email, head + 'other-tail')
    expect(wrong.statusCode).toBe(401)
    expect(wrong.json().error.code).toBe('AUTH_INVALID_CREDENTIALS')
  })

  it('answers a 1 MB password with a 400 before hashing it', async () => {
    const res = await t.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { login: 'someone@example.com', password: 'a'.repeat(1024 * 1024 - 200) },
    })
    expect(res.statusCode).toBe(400)
    expect(['VALIDATION_FAILED', 'PAYLOAD_TOO_LARGE']).toContain(res.json().error.code)
    const reg = await t.inject({
      method: 'POST',
      url: '/api/auth/register',
      payload: { email: 'mb@example.com', password: 'a'.repeat(5000) },
    })
    expect(reg.statusCode).toBe(400)
  })

  it('stores a bcrypt hash of cost >= 10 and never the password', async () => {
    const account = await registerUser(t)
    const row = await t.deps.db.kysely
      .selectFrom('users')
      .select('passwordHash')
      .where('id', '=', account.user.id)
      .executeTakeFirstOrThrow()
    const match = /^\$2[aby]\$(\d\d)\$/.exec(row.passwordHash)
    expect(match).not.toBeNull()
    expect(Number(match![1])).toBeGreaterThanOrEqual(10)
    expect(row.passwordHash).not.toContain(account.password)
  })
})

describe('A4 throttling', () => {
  it('locks an account after 10 failures from rotating IPs, even for the right password, until the window passes', async () => {
    const account = await registerUser(t)
    for (let i = 0; i < LOGIN_LIMITS.accountFailures; i++) {
      const res = await login(account.email, 'wrong-password-x', `10.1.0.${i + 1}`)
      expect(res.statusCode).toBe(401)
    }
    const locked = await login(account.email, account.password, '10.1.1.1')
    expect(locked.statusCode).toBe(429)
    expect(locked.json().error.code).toBe('TOO_MANY_ATTEMPTS')
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0)

    const failures = await t.deps.db.kysely
      .selectFrom('auditLogs')
      .select('id')
      .where('action', '=', 'auth.login_failed')
      .where('targetId', '=', account.user.id)
      .execute()
    expect(failures).toHaveLength(LOGIN_LIMITS.accountFailures)
    const audits = await t.deps.db.kysely.selectFrom('auditLogs').select('details').execute()
    expect(JSON.stringify(audits)).not.toContain('wrong-password-x')

    clock = new Date(clock.getTime() + LOGIN_LIMITS.accountLockMs + 1000)
    const after = await login(account.email, account.password, '10.1.1.2')
    expect(after.statusCode).toBe(200)
    // Success resets the counter: one more failure does not lock again.
    expect((await login(account.email, 'wrong-password-x', '10.1.1.3')).statusCode).toBe(401)
    expect((await login(account.email, account.password, '10.1.1.4')).statusCode).toBe(200)
  })

  it('throttles one IP after 50 failures across accounts, with Retry-After, then lets it in after the window', async () => {
    const ip = '10.2.0.9'
    const victim = await registerUser(t)
    for (let i = 0; i < LOGIN_LIMITS.ipFailures; i++) {
      const res = await login(`nobody${i}@example.com`, 'wrong-password-y', ip)
      expect(res.statusCode).toBe(401)
    }
    const blocked = await login(victim.email, victim.password, ip)
    expect(blocked.statusCode).toBe(429)
    expect(blocked.json().error.code).toBe('TOO_MANY_ATTEMPTS')
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0)
    expect(blocked.headers['x-ratelimit-limit']).toBe(String(LOGIN_LIMITS.ipFailures))
    expect(blocked.headers['x-ratelimit-remaining']).toBe('0')
    // Other IPs are unaffected.
    expect((await login(victim.email, victim.password, '10.2.0.10')).statusCode).toBe(200)
    clock = new Date(clock.getTime() + LOGIN_LIMITS.ipWindowMs + 1000)
    expect((await login(victim.email, victim.password, ip)).statusCode).toBe(200)
  })

  it('answers an unknown account and a wrong password identically', async () => {
    const account = await registerUser(t)
    const unknown = await login('ghost-user@example.com', 'some-password-1', '10.3.0.1')
    const wrong = await login(account.email, 'some-password-1', '10.3.0.2')
    expect(unknown.statusCode).toBe(wrong.statusCode)
    const strip = (body: { error: { requestId?: string } }) => ({ ...body.error, requestId: undefined })
    expect(strip(unknown.json())).toEqual(strip(wrong.json()))
    expect(unknown.json().error.code).toBe('AUTH_INVALID_CREDENTIALS')
    const rows = await t.deps.db.kysely
      .selectFrom('auditLogs')
      .selectAll()
      .where('action', '=', 'auth.login_failed')
      .where('ip', '=', '10.3.0.1')
      .execute()
    expect(rows).toHaveLength(1)
    expect(rows[0]!.actorId).toBeNull()
    expect(rows[0]!.details).not.toContain('ghost-user')
  })

  it('spends bcrypt time on unknown accounts too (dummy hash), so timing does not reveal accounts', async () => {
    // A ratio with a wide margin, not a wall-clock bound: without the dummy verification an unknown
    // account answers ~20x faster than a wrong password; with it they cost about the same.
    const account = await registerUser(t)
    const time = async (fn: () => Promise<unknown>) => {
      const runs: number[] = []
      for (let i = 0; i < 5; i++) {
        const start = process.hrtime.bigint()
        await fn()
        runs.push(Number(process.hrtime.bigint() - start))
      }
      return runs.sort((a, b) => a - b)[2]!
    }
    await login('warmup@example.com', 'some-password-2', '10.4.0.1')
    const unknownNs = await time(() => login('ghost2@example.com', 'some-password-2', '10.4.0.2'))
    const wrongNs = await time(() => login(account.email, 'some-password-2', '10.4.0.3'))
    expect(unknownNs / wrongNs).toBeGreaterThan(0.5)
  })

  it('throttles sign-ups per IP', async () => {
    const ip = '10.5.0.1'
    for (let i = 0; i < LOGIN_LIMITS.signupsPerIp; i++) await registerUser(t, { ip })
    const res = await t.inject({
      method: 'POST',
      url: '/api/auth/register',
      remoteAddress: ip,
      payload: { email: 'one-too-many@example.com', password: strongPassword() },
    })
    expect(res.statusCode).toBe(429)
    expect(res.json().error.code).toBe('RATE_LIMITED')
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0)
  })
})

describe('B1 forged tokens', () => {
  const forge = (header: object, payload: object, signature = '') => `${b64url(header)}.${b64url(payload)}.${signature}`

  it('rejects alg none, empty signatures, embedded keys, path kids and unknown kids with 401 (never 500)', async () => {
    const account = await registerUser(t)
    const ours = testJwtKeys().current
    const now = Math.floor(clock.getTime() / 1000)
    const claims = {
      sub: account.user.id,
      sid: JSON.parse(Buffer.from(account.accessToken.split('.')[1]!, 'base64url').toString()).sid,
      ver: 0,
      typ: 'access',
      iss: t.deps.config.QIAO_PUBLIC_URL,
      aud: 'qiao',
      iat: now,
      exp: now + 600,
    }
    const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const attackerJwk = await exportJWK(attacker.publicKey)
    const signWith = (header: Record<string, unknown>) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'RS256', ...header }).sign(attacker.privateKey)
    const [valid, validSig] = [account.accessToken, account.accessToken.split('.')[2]!]
    const [h, p] = valid.split('.')
    const hs256 = (kid: string, secret: string | Buffer) => {
      const head = b64url({ alg: 'HS256', typ: 'JWT', kid })
      const body = b64url(claims)
      return `${head}.${body}.${createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url')}`
    }
    const publicPem = ours.publicKey.export({ type: 'spki', format: 'pem' }) as string

    const forged: Record<string, string> = {
      'alg none': forge({ alg: 'none', typ: 'JWT' }, claims),
      'alg none with our kid': forge({ alg: 'none', kid: ours.kid }, claims),
      'empty signature': `${h}.${p}.`,
      'signature from another token on edited payload': `${h}.${b64url({ ...claims, sub: 'someone-else' })}.${validSig}`,
      'embedded jwk': await signWith({ jwk: attackerJwk, kid: keyIdOf(attacker.publicKey) }),
      'embedded jwk with our kid': await signWith({ jwk: attackerJwk, kid: ours.kid }),
      jku: await signWith({ jku: 'http://127.0.0.1:9/jwks.json', kid: 'attacker' }),
      x5u: await signWith({ x5u: 'http://127.0.0.1:9/cert.pem', kid: 'attacker' }),
      'kid path traversal, HS256 with empty key': hs256('../../dev/null', ''),
      'kid path traversal, RS256': await signWith({ kid: '../../dev/null' }),
      'unknown kid': await signWith({ kid: 'ffffffffffffffff' }),
      'kid __proto__': await signWith({ kid: '__proto__' }),
      'HS256 keyed with our public key (alg confusion)': hs256(ours.kid, publicPem),
      'no kid': await signWith({}),
      garbage: 'not.a.jwt',
    }
    for (const [label, token] of Object.entries(forged)) {
      const res = await me(token)
      expect({ label, status: res.statusCode }).toEqual({ label, status: 401 })
      expect(res.json().error.code).toBe('UNAUTHENTICATED')
    }
    expect((await me(valid)).statusCode).toBe(200)
  })
})

describe('B3 claims', () => {
  it('rejects expired tokens, future nbf, wrong iss or aud, and a refresh token as Bearer', async () => {
    const account = await registerUser(t)
    const { privateKey, kid } = testJwtKeys().current
    const sid = JSON.parse(Buffer.from(account.accessToken.split('.')[1]!, 'base64url').toString()).sid as string
    const now = Math.floor(clock.getTime() / 1000)
    const sign = (claims: Record<string, unknown>, over: { iss?: string; aud?: string } = {}) =>
      new SignJWT({ sid, ver: 0, typ: 'access', ...claims })
        .setProtectedHeader({ alg: 'RS256', kid })
        .setSubject(account.user.id)
        .setIssuer(over.iss ?? t.deps.config.QIAO_PUBLIC_URL)
        .setAudience(over.aud ?? 'qiao')
        .setIssuedAt(now)
        .setExpirationTime(now + 600)
        .sign(privateKey)

    expect((await me(await sign({}))).statusCode).toBe(200) // the control: a well-formed token works
    expect((await me(await sign({ nbf: now + 3600 }))).statusCode).toBe(401)
    expect((await me(await sign({}, { iss: 'https://evil.example' }))).statusCode).toBe(401)
    expect((await me(await sign({}, { aud: 'other-service' }))).statusCode).toBe(401)
    expect((await me(await sign({ typ: 'refresh' }))).statusCode).toBe(401)
    expect((await me(account.refreshToken)).statusCode).toBe(401)

    const token = account.accessToken
    expect((await me(token)).statusCode).toBe(200)
    clock = new Date(clock.getTime() + 16 * 60 * 1000)
    const expired = await me(token)
    expect(expired.statusCode).toBe(401)
    expect(expired.json().error.code).toBe('UNAUTHENTICATED')
  })
})

describe('B4 roles', () => {
  it('rejects an edited payload and re-reads the role from the database on every request', async () => {
    const account = await registerUser(t)
    const [h, p, s] = account.accessToken.split('.')
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString())
    const edited = `${h}.${b64url({ ...payload, role: 'admin' })}.${s}`
    expect((await me(edited)).statusCode).toBe(401)
    expect((await t.inject({ method: 'GET', url: '/api/admin/users', headers: bearer(edited) })).statusCode).toBe(401)

    const asUser = await t.inject({ method: 'GET', url: '/api/admin/users', headers: bearer(account.accessToken) })
    expect(asUser.statusCode).toBe(403)
    expect(asUser.json().error.code).toBe('FORBIDDEN')

    // Promote in the database: the same token now passes; demote: it is refused again.
    await t.deps.db.kysely.updateTable('users').set({ role: 'admin' }).where('id', '=', account.user.id).execute()
    expect(
      (await t.inject({ method: 'GET', url: '/api/admin/users', headers: bearer(account.accessToken) })).statusCode,
    ).toBe(200)
    await t.deps.db.kysely.updateTable('users').set({ role: 'user' }).where('id', '=', account.user.id).execute()
    expect(
      (await t.inject({ method: 'GET', url: '/api/admin/users', headers: bearer(account.accessToken) })).statusCode,
    ).toBe(403)
  })
})

describe('B5 refresh rotation and reuse', () => {
  const refresh = (token: string) =>
    t.inject({ method: 'POST', url: '/api/auth/refresh', payload: { refreshToken: token } })

  it('rotates, detects the replay of a spent token, revokes the whole family and writes a high audit event', async () => {
    const account = await registerUser(t)
    const r1 = account.refreshToken
    const first = await refresh(r1)
    expect(first.statusCode).toBe(200)
    const r2 = first.json().refreshToken as string
    const access2 = first.json().accessToken as string
    expect(r2).not.toBe(r1)
    expect((await me(access2)).statusCode).toBe(200)

    const replay = await refresh(r1)
    expect(replay.statusCode).toBe(401)
    expect(replay.json().error.code).toBe('AUTH_TOKEN_REUSED')
    // The newest token of the family is dead too, and so is its access token.
    expect((await refresh(r2)).statusCode).toBe(401)
    expect((await me(access2)).statusCode).toBe(401)
    expect((await me(account.accessToken)).statusCode).toBe(401)

    const events = await t.deps.db.kysely
      .selectFrom('auditLogs')
      .selectAll()
      .where('action', '=', 'auth.refresh_reused')
      .where('actorId', '=', account.user.id)
      .execute()
    expect(events).toHaveLength(1)
    expect(events[0]!.severity).toBe('high')
  })

  it('lets exactly one of two concurrent refreshes of the same token succeed', async () => {
    const account = await registerUser(t)
    const results = await Promise.all([refresh(account.refreshToken), refresh(account.refreshToken)])
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 401])
  })

  it('accepts the refresh token from the cookie', async () => {
    const account = await registerUser(t)
    const value = /^__Host-qiao_rt=([^;]+)/.exec(account.cookie ?? '')![1]!
    const res = await t.inject({ method: 'POST', url: '/api/auth/refresh', cookies: { '__Host-qiao_rt': value } })
    expect(res.statusCode).toBe(200)
    expect(String(res.headers['set-cookie'])).toContain('__Host-qiao_rt=')
  })
})

describe('B6 logout, cookies, storage, key rotation', () => {
  it('refuses refresh after logout and clears the cookie', async () => {
    const account = await registerUser(t)
    const out = await t.inject({
      method: 'POST',
      url: '/api/auth/logout',
      payload: { refreshToken: account.refreshToken },
    })
    expect(out.statusCode).toBe(204)
    expect(String(out.headers['set-cookie'])).toMatch(/__Host-qiao_rt=;/)
    const res = await t.inject({
      method: 'POST',
      url: '/api/auth/refresh',
      payload: { refreshToken: account.refreshToken },
    })
    expect(res.statusCode).toBe(401)
    expect((await me(account.accessToken)).statusCode).toBe(401)
  })

  it('sets the refresh cookie HttpOnly, Secure, SameSite=Strict, Path=/ with the __Host- prefix', async () => {
    const account = await registerUser(t)
    const cookie = account.cookie!
    expect(cookie).toMatch(/^__Host-qiao_rt=/)
    expect(cookie).toContain('HttpOnly')
    expect(cookie).toContain('Secure')
    expect(cookie).toContain('SameSite=Strict')
    expect(cookie).toContain('Path=/')
    expect(cookie).not.toContain('Domain=')
    expect(cookie).toMatch(/Max-Age=2592000/)
  })

  it('stores refresh tokens only as SHA-256 hashes and never logs tokens', async () => {
    const account = await registerUser(t)
    const rows = await t.deps.db.kysely
      .selectFrom('refreshTokens')
      .selectAll()
      .where('userId', '=', account.user.id)
      .execute()
    expect(rows).toHaveLength(1)
    expect(rows[0]!.tokenHash).toMatch(/^[0-9a-f]{64}$/)
    expect(JSON.stringify(rows)).not.toContain(account.refreshToken)
    await t.inject({ method: 'POST', url: '/api/auth/refresh', payload: { refreshToken: account.refreshToken } })
    expect(t.logs.text).not.toContain(account.refreshToken)
    expect(t.logs.text).not.toContain(account.accessToken)
    expect(t.logs.text).not.toContain(account.password)
  })

  it('serves the JWKS with the current kid', async () => {
    const res = await t.inject({ method: 'GET', url: '/.well-known/jwks.json' })
    expect(res.statusCode).toBe(200)
    const { keys } = res.json()
    expect(keys.map((k: { kid: string }) => k.kid)).toEqual([testJwtKeys().current.kid])
    expect(keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' })
    expect(keys[0]).not.toHaveProperty('d')
  })

  it('honours a previous signing key while it is configured, and rejects it once removed', async () => {
    const old = testJwtKeys()
    // Phase 1: the app signs with the old key.
    const before = await createTestApp({ deps: { jwtKeys: old } })
    const account = await registerUser(before)
    await before.app.close()

    // Phase 2: a new current key, the old one kept as previous; same database.
    const fresh = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const rotated = {
      current: { kid: keyIdOf(fresh.publicKey), privateKey: fresh.privateKey, publicKey: fresh.publicKey },
      previous: [{ kid: old.current.kid, publicKey: old.current.publicKey }],
    }
    const { buildApp } = await import('../../app')
    const during = await buildApp({ ...before.deps, jwtKeys: rotated })
    const jwks = (await during.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json()
    expect(jwks.keys.map((k: { kid: string }) => k.kid)).toEqual([rotated.current.kid, old.current.kid])
    expect(
      (await during.inject({ method: 'GET', url: '/api/me', headers: bearer(account.accessToken) })).statusCode,
    ).toBe(200)
    // New tokens carry the new kid.
    const renewed = await during.inject({
      method: 'POST',
      url: '/api/auth/refresh',
      payload: { refreshToken: account.refreshToken },
    })
    const header = JSON.parse(Buffer.from(renewed.json().accessToken.split('.')[0], 'base64url').toString())
    expect(header.kid).toBe(rotated.current.kid)
    await during.close()

    // Phase 3: the grace period is over (old key removed from configuration).
    const after = await buildApp({ ...before.deps, jwtKeys: { current: rotated.current, previous: [] } })
    expect(
      (await after.inject({ method: 'GET', url: '/api/me', headers: bearer(account.accessToken) })).statusCode,
    ).toBe(401)
    expect(
      (await after.inject({ method: 'GET', url: '/api/me', headers: bearer(renewed.json().accessToken) })).statusCode,
    ).toBe(200)
    await after.close()
    await before.testDb.drop()
  })
})

describe('sessions', () => {
  it('lists the caller’s sessions and revokes one; another user’s session is 404', async () => {
    const alice = await registerUser(t)
    const second = await login(alice.email, alice.password, '10.6.0.1')
    const bob = await registerUser(t)

    const list = await t.inject({ method: 'GET', url: '/api/auth/sessions', headers: bearer(alice.accessToken) })
    expect(list.statusCode).toBe(200)
    const items = list.json().items as Array<{ id: string; current: boolean; ip: string }>
    expect(items).toHaveLength(2)
    expect(items.filter((s) => s.current)).toHaveLength(1)
    const other = items.find((s) => !s.current)!
    expect(JSON.stringify(list.json())).not.toMatch(/tokenHash|token_hash/)

    const foreign = await t.inject({
      method: 'DELETE',
      url: `/api/auth/sessions/${other.id}`,
      headers: bearer(bob.accessToken),
    })
    expect(foreign.statusCode).toBe(404)
    expect((await me(second.json().accessToken)).statusCode).toBe(200)

    const del = await t.inject({
      method: 'DELETE',
      url: `/api/auth/sessions/${other.id}`,
      headers: bearer(alice.accessToken),
    })
    expect(del.statusCode).toBe(204)
    expect((await me(second.json().accessToken)).statusCode).toBe(401)
    expect((await me(alice.accessToken)).statusCode).toBe(200)
  })

  it('logs in with the username, case-insensitively', async () => {
    const account = await registerUser(t, { username: 'RiverCat' })
    expect(account.user.username).toBe('rivercat')
    expect((await login('RIVERCAT', account.password)).statusCode).toBe(200)
  })

  it('refuses registration when closed', async () => {
    await t.deps.db.kysely
      .insertInto('settings')
      .values({ key: 'registrationOpen', value: 'false', updatedAt: clock.toISOString(), updatedBy: null })
      .execute()
    const res = await t.inject({
      method: 'POST',
      url: '/api/auth/register',
      payload: { email: 'closed@example.com', password: strongPassword() },
    })
    expect(res.statusCode).toBe(403)
    expect(res.json().error.code).toBe('REGISTRATION_CLOSED')
    await t.deps.db.kysely.deleteFrom('settings').where('key', '=', 'registrationOpen').execute()
  })
})
