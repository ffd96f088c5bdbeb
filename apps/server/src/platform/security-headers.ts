import type { FastifyInstance } from 'fastify'

/**
 * The security headers every answer carries (SECURITY.md E4): a CSP without inline script,
 * `nosniff`, no framing, and Helmet's other defaults. They do not depend on the request, so they
 * are built once at startup and copied onto each reply — rebuilding them per request (what the
 * Helmet plugin does) was a measurable share of the gateway's CPU.
 */

/** The policy for the SPA and the API alike; `/api/files` content tightens it per answer. */
const CSP_DIRECTIVES: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['default-src', ["'self'"]],
  ['script-src', ["'self'"]],
  // antd's CSS-in-JS injects <style> elements; styles are not scripts.
  ['style-src', ["'self'", "'unsafe-inline'"]],
  ['img-src', ["'self'", 'data:', 'blob:']],
  ['font-src', ["'self'", 'data:']],
  ['connect-src', ["'self'"]],
  ['object-src', ["'none'"]],
  ['base-uri', ["'self'"]],
  ['form-action', ["'self'"]],
  ['frame-ancestors', ["'none'"]],
  ['worker-src', ["'self'"]],
  ['manifest-src', ["'self'"]],
]

/** The header set, lower-case names. HSTS only when the public URL is https (it would pin plain http otherwise). */
export function securityHeaders(options: { strictTransportSecurity: boolean }): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {
    'content-security-policy': CSP_DIRECTIVES.map(([name, values]) => `${name} ${values.join(' ')}`).join(';'),
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'origin-agent-cluster': '?1',
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'x-dns-prefetch-control': 'off',
    'x-download-options': 'noopen',
    'x-frame-options': 'SAMEORIGIN',
    'x-permitted-cross-domain-policies': 'none',
    // Legacy XSS auditors did more harm than good; "0" turns them off.
    'x-xss-protection': '0',
  }
  if (options.strictTransportSecurity) headers['strict-transport-security'] = 'max-age=31536000; includeSubDomains'
  return Object.freeze(headers)
}

/**
 * Puts the headers on every answer, as the first thing a request meets: errors from later hooks
 * (401, 429) carry them too. A route may still override one (files send a stricter CSP), and
 * hijacked replies (SSE) take them from `reply.getHeaders()`.
 */
export function installSecurityHeaders(app: FastifyInstance, options: { strictTransportSecurity: boolean }): void {
  const headers = securityHeaders(options)
  app.addHook('onRequest', (_request, reply, done) => {
    void reply.headers(headers)
    done()
  })
}
