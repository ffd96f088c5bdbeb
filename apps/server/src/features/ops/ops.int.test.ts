import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestApp, type TestApp } from '../../test/app'

describe('operations and the HTTP baseline', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await createTestApp()
  })
  afterAll(async () => {
    await t.close()
  })

  it('answers /healthz and /readyz', async () => {
    const health = await t.inject({ method: 'GET', url: '/healthz' })
    expect(health.statusCode).toBe(200)
    const ready = await t.inject({ method: 'GET', url: '/readyz' })
    expect(ready.statusCode).toBe(200)
    expect(ready.json()).toMatchObject({ status: 'ready', checks: { database: 'ok' } })
  })

  it('reports not ready with 503 when the database is gone', async () => {
    const other = await createTestApp()
    await other.testDb.db.close()
    const res = await other.inject({ method: 'GET', url: '/readyz' })
    expect(res.statusCode).toBe(503)
    expect(res.json().error.code).toBe('SERVICE_UNAVAILABLE')
    await other.app.close()
  })

  it('puts x-request-id on every answer, including unknown routes, in the documented error shape', async () => {
    const res = await t.inject({ method: 'GET', url: '/api/nope' })
    expect(res.statusCode).toBe(404)
    const id = res.headers['x-request-id']
    expect(typeof id).toBe('string')
    expect(res.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'Route not found', requestId: id } })
  })

  it('keeps a well-formed client request id and replaces a malformed one', async () => {
    const kept = await t.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'abc12345-trace' } })
    expect(kept.headers['x-request-id']).toBe('abc12345-trace')
    const replaced = await t.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'bad id\r\nx' } })
    expect(replaced.headers['x-request-id']).not.toContain('bad')
  })

  it('sends security headers: CSP without inline script, nosniff, frame-ancestors none', async () => {
    const res = await t.inject({ method: 'GET', url: '/healthz' })
    const csp = String(res.headers['content-security-policy'])
    expect(csp).toMatch(/script-src 'self'(;|$)/)
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/)
    expect(csp).toContain("frame-ancestors 'none'")
    expect(res.headers['x-content-type-options']).toBe('nosniff')
  })

  it('keeps CORS closed by default', async () => {
    const res = await t.inject({
      method: 'OPTIONS',
      url: '/api/auth/login',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    })
    expect(res.headers['access-control-allow-origin']).toBeUndefined()
  })

  it('serves the OpenAPI document and the docs UI', async () => {
    const doc = await t.inject({ method: 'GET', url: '/openapi.json' })
    expect(doc.statusCode).toBe(200)
    expect(doc.json().openapi).toMatch(/^3\./)
    const ui = await t.inject({ method: 'GET', url: '/docs' })
    expect([200, 302]).toContain(ui.statusCode)
  })

  it('refuses a body over the size limit with 413 before parsing', async () => {
    const res = await t.inject({
      method: 'POST',
      url: '/api/auth/login',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ login: 'x', password: 'y'.repeat(2 * 1024 * 1024) }),
    })
    expect(res.statusCode).toBe(413)
    expect(res.json().error.code).toBe('PAYLOAD_TOO_LARGE')
  })
})
