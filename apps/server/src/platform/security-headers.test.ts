import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { installSecurityHeaders, securityHeaders } from './security-headers'

describe('security headers (SECURITY.md E4)', () => {
  it('sends a CSP without inline script, nosniff and no framing', () => {
    const h = securityHeaders({ strictTransportSecurity: false })
    expect(h['content-security-policy']).toBe(
      "default-src 'self';script-src 'self';style-src 'self' 'unsafe-inline';img-src 'self' data: blob:;font-src 'self' data:;" +
        "connect-src 'self';object-src 'none';base-uri 'self';form-action 'self';frame-ancestors 'none';worker-src 'self';manifest-src 'self'",
    )
    expect(h['x-content-type-options']).toBe('nosniff')
    expect(h['x-frame-options']).toBe('SAMEORIGIN')
    expect(h['referrer-policy']).toBe('no-referrer')
    expect(h['strict-transport-security']).toBeUndefined()
    expect(securityHeaders({ strictTransportSecurity: true })['strict-transport-security']).toBe('max-age=31536000; includeSubDomains')
  })

  it('puts them on answers, on errors from later hooks, and lets a route tighten the CSP', async () => {
    const app = Fastify()
    installSecurityHeaders(app, { strictTransportSecurity: false })
    app.addHook('onRequest', async (request) => {
      if (request.url === '/denied') throw Object.assign(new Error('no'), { statusCode: 401 })
    })
    app.get('/ok', () => ({ ok: true }))
    app.get('/denied', () => ({ ok: true }))
    app.get('/file', (_request, reply) => reply.header('content-security-policy', "default-src 'none'; sandbox").send('x'))
    try {
      for (const url of ['/ok', '/denied', '/missing']) {
        const res = await app.inject({ method: 'GET', url })
        expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'")
        expect(res.headers['x-content-type-options']).toBe('nosniff')
      }
      const file = await app.inject({ method: 'GET', url: '/file' })
      expect(file.headers['content-security-policy']).toBe("default-src 'none'; sandbox")
    } finally {
      await app.close()
    }
  })
})
