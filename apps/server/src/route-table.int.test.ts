import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RouteTableEntry } from './app'
import { createTestApp, type TestApp } from './test/app'
import { newId } from './ids'
import { bearer, registerUser, type TestAccount } from './features/auth/testing'

/**
 * SECURITY.md C5, generated from Fastify's own route table so routes added later are covered
 * automatically: every route of ours declares its auth, and every /api/admin route answers 403 to
 * a signed-in ordinary user and 401 to an anonymous caller — with params filled by fake ids.
 */
const OUR_PREFIXES = ['/api/', '/v1/', '/healthz', '/readyz', '/metrics', '/openapi.json', '/.well-known/']
const AUTH_VALUES = ['public', 'user', 'admin', 'apiKey']

function concrete(url: string): string {
  return url
    .split('/')
    .map((part) => (part.startsWith(':') ? newId() : part === '*' ? 'anything' : part))
    .join('/')
}

describe('route table', () => {
  let t: TestApp
  let user: TestAccount
  let routes: RouteTableEntry[]
  beforeAll(async () => {
    t = await createTestApp()
    user = await registerUser(t)
    routes = t.app.routeTable
  })
  afterAll(async () => {
    await t.close()
  })

  it('has every route of ours declare config.auth with a known value', () => {
    const ours = routes.filter((r) => OUR_PREFIXES.some((p) => r.url.startsWith(p)))
    expect(ours.length).toBeGreaterThan(10)
    const undeclared = ours.filter((r) => !r.auth || !AUTH_VALUES.includes(r.auth))
    expect(undeclared).toEqual([])
  })

  it('marks every /api/admin route as admin', () => {
    const admin = routes.filter((r) => r.url.startsWith('/api/admin'))
    expect(admin.map((r) => `${r.method} ${r.url}`)).toEqual(
      expect.arrayContaining(['GET /api/admin/users', 'PATCH /api/admin/users/:id', 'GET /api/admin/audit-logs']),
    )
    expect(admin.filter((r) => r.auth !== 'admin')).toEqual([])
  })

  it('answers 403 to an ordinary user and 401 to anonymous callers on every admin route, all methods', async () => {
    const admin = routes.filter((r) => r.url.startsWith('/api/admin'))
    for (const route of admin) {
      const url = concrete(route.url)
      const method = route.method as 'GET'
      const withBody = !['GET', 'HEAD', 'DELETE', 'OPTIONS'].includes(route.method)
      const payload = withBody ? { payload: { role: 'admin', status: 'active' } } : {}
      const asUser = await t.inject({ method, url, headers: bearer(user.accessToken), ...payload })
      expect({ route: `${route.method} ${route.url}`, status: asUser.statusCode }).toEqual({
        route: `${route.method} ${route.url}`,
        status: 403,
      })
      if (route.method !== 'HEAD') expect(asUser.json().error.code).toBe('FORBIDDEN')
      const anonymous = await t.inject({ method, url, ...payload })
      expect({ route: `${route.method} ${route.url}`, status: anonymous.statusCode }).toEqual({
        route: `${route.method} ${route.url}`,
        status: 401,
      })
    }
    // The user is still an ordinary user: nothing above changed their role.
    const row = await t.deps.db.kysely
      .selectFrom('users')
      .select('role')
      .where('id', '=', user.user.id)
      .executeTakeFirstOrThrow()
    expect(row.role).toBe('user')
  })

  it('gives aliases of admin paths no way around the check', async () => {
    const variants = [
      '/api/admin/users/',
      '/api/admin/users?role=admin',
      '/api/admin//users',
      '/API/admin/users',
      '/api/Admin/users',
      '/api/%61dmin/users',
      '/api/admin/%75sers',
      '/api/admin/users/..%2F..%2Fadmin%2Fusers',
      '/api/me/../admin/users',
    ]
    for (const url of variants) {
      const res = await t.inject({ method: 'GET', url, headers: bearer(user.accessToken) })
      // Either refused, or (when the web app is built) the SPA's HTML shell for an unknown page —
      // never an API answer.
      const apiAnswer = res.statusCode < 400 && String(res.headers['content-type']).includes('application/json')
      expect({ url, apiAnswer }).toEqual({ url, apiAnswer: false })
      expect(res.body).not.toContain(user.email)
    }
  })

  it('answers 401 to anonymous callers on every user route', async () => {
    for (const route of routes.filter((r) => r.auth === 'user')) {
      const res = await t.inject({ method: route.method, url: concrete(route.url) })
      expect({ route: `${route.method} ${route.url}`, status: res.statusCode }).toEqual({
        route: `${route.method} ${route.url}`,
        status: 401,
      })
    }
  })
})
