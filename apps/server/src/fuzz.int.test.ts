import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bearer, promote, registerUser, type TestAccount } from './features/auth/testing'
import { newId } from './ids'
import { createTestApp, type TestApp } from './test/app'

/**
 * SECURITY.md D1/D4: every route of ours that takes a body, generated from the live route table,
 * gets malformed input. Each answer is a 4xx in the documented error shape (never a 5xx, never a
 * stack trace), and the process keeps answering /healthz.
 */
const BODY_METHODS = ['POST', 'PATCH', 'PUT']

function concrete(url: string): string {
  return url
    .split('/')
    .map((part) => (part.startsWith(':') ? newId() : part === '*' ? 'x' : part))
    .join('/')
}

function deepJson(depth: number): string {
  return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)
}

const MALFORMED: Array<{ name: string; headers: Record<string, string>; payload: string; mustBe400?: boolean }> = [
  { name: 'invalid JSON', headers: { 'content-type': 'application/json' }, payload: '{"a":', mustBe400: true },
  { name: 'JSON null', headers: { 'content-type': 'application/json' }, payload: 'null' },
  { name: 'a JSON array', headers: { 'content-type': 'application/json' }, payload: '[1,2,3]' },
  { name: 'a JSON string', headers: { 'content-type': 'application/json' }, payload: '"hello"' },
  { name: '10k-deep nesting', headers: { 'content-type': 'application/json' }, payload: deepJson(10_000) },
  { name: 'prototype pollution', headers: { 'content-type': 'application/json' }, payload: '{"__proto__":{"role":"admin"},"constructor":{"prototype":{"isAdmin":true}}}' },
  { name: 'wrong content type', headers: { 'content-type': 'text/plain' }, payload: 'role=admin' },
  { name: 'numbers as strings and NaN-ish', headers: { 'content-type': 'application/json' }, payload: '{"amount":"1e9","delta":1e308,"limit":-5}' },
]

describe('malformed input on every body route', () => {
  let t: TestApp
  let admin: TestAccount
  let apiKey: string
  beforeAll(async () => {
    t = await createTestApp()
    admin = await registerUser(t)
    await promote(t, admin.user.id)
    // /v1 routes take a personal API key, and answer errors in OpenAI's shape (API.md).
    apiKey = (await t.inject({ method: 'POST', url: '/api/keys', headers: bearer(admin.accessToken), payload: { name: 'fuzz' } })).json<{ secret: string }>().secret
  })
  afterAll(async () => {
    await t.close()
  })

  it('answers 4xx in the documented shape, never 5xx, and stays healthy', async () => {
    const routes = t.app.routeTable.filter(
      (r) => BODY_METHODS.includes(r.method) && (r.url.startsWith('/api/') || r.url.startsWith('/v1/')),
    )
    expect(routes.length).toBeGreaterThan(5)
    const failures: string[] = []
    for (const route of routes) {
      for (const m of MALFORMED) {
        const res = await t.inject({
          method: route.method,
          url: concrete(route.url),
          headers: { ...m.headers, ...bearer(route.url.startsWith('/v1/') ? apiKey : admin.accessToken) },
          payload: m.payload,
          remoteAddress: `198.51.100.${Math.floor(Math.random() * 250) + 1}`,
        })
        const where = `${route.method} ${route.url} with ${m.name}: ${res.statusCode}`
        if (res.statusCode >= 500) failures.push(`${where} ${res.body.slice(0, 200)}`)
        if (m.mustBe400 && res.statusCode !== 400) failures.push(`${where} (expected 400)`)
        if (res.statusCode >= 400) {
          const body = res.json()
          const shaped = route.url.startsWith('/v1/')
            ? typeof body?.error?.message === 'string' && typeof body.error.type === 'string' && 'code' in body.error && 'param' in body.error
            : typeof body?.error?.code === 'string' && typeof body.error.message === 'string' && body.error.requestId === res.headers['x-request-id']
          if (!shaped) failures.push(`${where} bad error shape ${res.body.slice(0, 200)}`)
          if (/at .+\(.+:\d+:\d+\)|node_modules|SQLITE|ER_|syntax error/i.test(res.body)) failures.push(`${where} leaks internals`)
        }
      }
    }
    expect(failures).toEqual([])
    const health = await t.inject({ method: 'GET', url: '/healthz' })
    expect(health.statusCode).toBe(200)
  })

  it('answers 400 VALIDATION_FAILED with details for a missing body on register', async () => {
    const res = await t.inject({ method: 'POST', url: '/api/auth/register', headers: { 'content-type': 'application/json' }, payload: '{}' })
    expect(res.statusCode).toBe(400)
    expect(res.json().error.code).toBe('VALIDATION_FAILED')
    expect(Array.isArray(res.json().error.details)).toBe(true)
  })

  it('rejects unknown properties (strict schemas) instead of ignoring them', async () => {
    const res = await t.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { login: 'someone@example.com', password: 'whatever-123', isAdmin: true },
    })
    expect(res.statusCode).toBe(400)
    expect(res.json().error.code).toBe('VALIDATION_FAILED')
  })
})
