import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiError, send } from './http'

// A real HTTP server answering the way Qiao (or a proxy in front of it) does.
let server: Server
let base: string
const seen: Array<{ method?: string; auth?: string; body: string }> = []

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => (body += chunk.toString()))
    req.on('end', () => {
      seen.push({ method: req.method, auth: req.headers.authorization, body })
      const reply = (status: number, payload: string, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': 'req-header-id', ...headers })
        res.end(payload)
      }
      switch (req.url ?? '') {
        case '/ok':
          return reply(200, JSON.stringify({ hello: 'world' }))
        case '/empty':
          res.writeHead(204).end()
          return
        case '/throttled':
          return reply(
            429,
            JSON.stringify({
              error: { code: 'TOO_MANY_ATTEMPTS', message: 'Too many attempts', requestId: 'req-body-id' },
            }),
            { 'retry-after': '90' },
          )
        case '/invalid':
          return reply(
            400,
            JSON.stringify({
              error: {
                code: 'VALIDATION_FAILED',
                message: 'bad',
                requestId: 'r1',
                details: [{ path: '/email', message: 'Invalid email' }],
              },
            }),
          )
        case '/future-code':
          return reply(
            409,
            JSON.stringify({ error: { code: 'SOMETHING_NEW', message: 'Newer server', requestId: 'r2' } }),
          )
        case '/gateway':
          res.writeHead(502, { 'content-type': 'text/html' }).end('<html>Bad Gateway</html>')
          return
        default:
          return reply(
            404,
            JSON.stringify({ error: { code: 'NOT_FOUND', message: 'Route not found', requestId: 'r3' } }),
          )
      }
    })
  })
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  await new Promise((ok) => server.close(ok))
})

async function failure(path: string): Promise<ApiError> {
  const err = await send(`${base}${path}`).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(ApiError)
  return err as ApiError
}

describe('send', () => {
  it('returns the parsed body, and undefined for 204', async () => {
    await expect(send(`${base}/ok`)).resolves.toEqual({ hello: 'world' })
    await expect(send(`${base}/empty`, { method: 'DELETE' })).resolves.toBeUndefined()
  })

  it('sends JSON and the bearer token when given', async () => {
    seen.length = 0
    await send(`${base}/ok`, { method: 'POST', body: { a: 1 }, token: 'access-token' })
    expect(seen[0]).toEqual({ method: 'POST', auth: 'Bearer access-token', body: '{"a":1}' })
  })

  it('throws ApiError with the code, message, status, request id and Retry-After', async () => {
    const err = await failure('/throttled')
    expect(err).toMatchObject({
      code: 'TOO_MANY_ATTEMPTS',
      message: 'Too many attempts',
      status: 429,
      requestId: 'req-body-id',
    })
    expect(err.extra.retryAfter).toBe(90)
  })

  it('keeps validation details', async () => {
    const err = await failure('/invalid')
    expect(err.code).toBe('VALIDATION_FAILED')
    expect(err.extra.details).toEqual([{ path: '/email', message: 'Invalid email' }])
  })

  it('maps codes this build does not know to UNKNOWN, keeping the server message', async () => {
    const err = await failure('/future-code')
    expect(err).toMatchObject({ code: 'UNKNOWN', status: 409, message: 'Newer server', requestId: 'req-header-id' })
  })

  it('maps a proxy error page to SERVICE_UNAVAILABLE', async () => {
    const err = await failure('/gateway')
    expect(err).toMatchObject({ code: 'SERVICE_UNAVAILABLE', status: 502, requestId: undefined })
  })

  it('reports an unreachable server as NETWORK with status 0', async () => {
    const closed = createServer()
    await new Promise<void>((ok) => closed.listen(0, '127.0.0.1', ok))
    const port = (closed.address() as AddressInfo).port
    await new Promise((ok) => closed.close(ok))
    const err = await send(`http://127.0.0.1:${port}/`).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'NETWORK', status: 0 })
  })
})
