import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fetch, request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertUrlAllowed, createGuardedDispatcher, type Resolver } from './ssrf'

/** A local HTTP server that records every request it gets. */
async function recordingServer(handler: (path: string) => { status: number; headers?: Record<string, string>; body?: string }) {
  const hits: string[] = []
  const server: Server = createServer((req, res) => {
    hits.push(req.url ?? '')
    const answer = handler(req.url ?? '')
    res.writeHead(answer.status, answer.headers ?? { 'content-type': 'application/json' })
    res.end(answer.body ?? '{}')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { hits, port: (server.address() as AddressInfo).port, close: () => new Promise<void>((r) => server.close(() => r())) }
}

describe('SSRF guard at connect time (F1, F3)', () => {
  let target: Awaited<ReturnType<typeof recordingServer>>
  let redirector: Awaited<ReturnType<typeof recordingServer>>
  beforeAll(async () => {
    target = await recordingServer(() => ({ status: 200, body: '{"ok":true}' }))
    redirector = await recordingServer(() => ({
      status: 302,
      headers: { location: `http://localhost:${target.port}/stolen`, 'content-type': 'text/plain' },
      body: 'moved',
    }))
  })
  afterAll(async () => {
    await target.close()
    await redirector.close()
  })

  it('refuses a DNS rebind: public on save, 127.0.0.1 at connect', async () => {
    let calls = 0
    // The first answer (at save) is public; every later one (at connect) is loopback.
    const rebinding: Resolver = async () => [{ address: calls++ === 0 ? '93.184.216.34' : '127.0.0.1', family: 4 }]
    const url = `http://rebind.example.com:${target.port}/v1`
    expect(await assertUrlAllowed(url, { resolve: rebinding })).toBe(url)

    const dispatcher = createGuardedDispatcher({ resolve: rebinding })
    const before = target.hits.length
    await expect(request(`${url}/chat/completions`, { method: 'POST', body: '{}', dispatcher })).rejects.toThrow(/internal address/)
    expect(target.hits.length).toBe(before)
    await dispatcher.close()
  })

  it('refuses IP literals and internal names at connect time even if they were never checked on save', async () => {
    const dispatcher = createGuardedDispatcher()
    const before = target.hits.length
    await expect(request(`http://127.0.0.1:${target.port}/x`, { dispatcher })).rejects.toThrow(/internal address/)
    await expect(request(`http://[::ffff:127.0.0.1]:${target.port}/x`, { dispatcher })).rejects.toThrow(/internal address/)
    await expect(request(`http://localhost:${target.port}/x`, { dispatcher })).rejects.toThrow(/internal address/)
    expect(target.hits.length).toBe(before)
    await dispatcher.close()
  })

  it('connects to an allow-listed internal host', async () => {
    const dispatcher = createGuardedDispatcher({ allowlist: ['127.0.0.1'] })
    const res = await request(`http://127.0.0.1:${target.port}/allowed`, { dispatcher })
    expect(res.statusCode).toBe(200)
    await res.body.text()
    expect(target.hits).toContain('/allowed')
    await dispatcher.close()
  })

  it('does not follow a redirect, and a followed hop to an internal address is still refused', async () => {
    const dispatcher = createGuardedDispatcher({ allowlist: ['127.0.0.1'] })
    const before = target.hits.length
    // undici.request (what providers/http.ts uses) returns the 302 as it is.
    const res = await request(`http://127.0.0.1:${redirector.port}/v1/chat/completions`, { method: 'POST', body: '{}', dispatcher })
    expect(res.statusCode).toBe(302)
    await res.body.text()
    // Even a client that does follow redirects cannot reach the internal target through the guard.
    await expect(fetch(`http://127.0.0.1:${redirector.port}/v1/models`, { dispatcher, redirect: 'follow' })).rejects.toThrow()
    expect(target.hits.length).toBe(before)
    await dispatcher.close()
  })

  it('refuses a redirect to the metadata address at connect time', async () => {
    const metadata = await recordingServer(() => ({ status: 302, headers: { location: 'http://169.254.169.254/latest/meta-data/' } }))
    const dispatcher = createGuardedDispatcher({ allowlist: ['127.0.0.1'], connectTimeoutMs: 2_000 })
    const err = await fetch(`http://127.0.0.1:${metadata.port}/`, { dispatcher, redirect: 'follow' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(Error)
    expect(String((err as Error & { cause?: unknown }).cause)).toMatch(/internal address/)
    await dispatcher.close()
    await metadata.close()
  })
})
