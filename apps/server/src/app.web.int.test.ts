import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestApp, type TestApp } from './test/app'

/**
 * The built web app as the server serves it (app.ts, serveWebApp): its files with the right
 * caching, index.html for client-side routes, nothing outside its folder, and one route for all
 * of it rather than one per file.
 */
describe('serving the web app', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qiao-web-'))
  const root = join(dir, 'dist')
  let t: TestApp

  beforeAll(async () => {
    mkdirSync(join(root, 'assets'), { recursive: true })
    mkdirSync(join(root, 'icons'))
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>桥</title><div id="root"></div>')
    writeFileSync(join(root, 'assets', 'index-Bx1y2z3.js'), 'console.log("app")')
    writeFileSync(join(root, 'icons', 'icon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>')
    writeFileSync(join(root, 'sw.js'), 'self.addEventListener("fetch", () => {})')
    writeFileSync(join(root, '.env'), 'SECRET=in-the-web-root')
    // Beside the web root, not in it: never reachable.
    writeFileSync(join(dir, 'secret.txt'), 'outside the web root')
    t = await createTestApp({ deps: { webRoot: root } })
  })
  afterAll(async () => {
    await t?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const get = (url: string) => t.inject({ method: 'GET', url })

  it('answers index.html, never cached, at / and at every client-side route', async () => {
    for (const url of ['/', '/chat/01JABCDEF', '/settings/keys?tab=1']) {
      const res = await get(url)
      expect(res.statusCode, url).toBe(200)
      expect(res.headers['content-type']).toContain('text/html')
      expect(res.headers['cache-control']).toBe('no-cache')
      expect(res.body).toContain('<title>桥</title>')
      // The security headers of every answer (platform/security-headers.ts).
      expect(res.headers['content-security-policy']).toBeTruthy()
    }
    expect((await t.inject({ method: 'HEAD', url: '/chat/01JABCDEF' })).statusCode).toBe(200)
  })

  it('serves hashed assets as immutable for a year and the fixed files revalidated', async () => {
    const asset = await get('/assets/index-Bx1y2z3.js')
    expect(asset.statusCode).toBe(200)
    expect(asset.headers['content-type']).toContain('javascript')
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable')
    expect(asset.body).toBe('console.log("app")')
    for (const url of ['/sw.js', '/icons/icon.svg']) {
      const res = await get(url)
      expect(res.statusCode, url).toBe(200)
      expect(res.headers['cache-control'], url).toBe('public, max-age=0')
    }
  })

  it('answers conditional and range requests as HTTP says', async () => {
    const first = await get('/assets/index-Bx1y2z3.js')
    const etag = first.headers.etag
    expect(etag).toBeTruthy()
    const again = await t.inject({ method: 'GET', url: '/assets/index-Bx1y2z3.js', headers: { 'if-none-match': String(etag) } })
    expect(again.statusCode).toBe(304)
    expect(again.body).toBe('')
    const part = await t.inject({ method: 'GET', url: '/assets/index-Bx1y2z3.js', headers: { range: 'bytes=0-6' } })
    expect(part.statusCode).toBe(206)
    expect(part.headers['content-range']).toBe('bytes 0-6/18')
    expect(part.body).toBe('console')
    const beyond = await t.inject({ method: 'GET', url: '/assets/index-Bx1y2z3.js', headers: { range: 'bytes=500-600' } })
    expect(beyond.statusCode).toBe(416)
    expect(beyond.headers['content-range']).toBe('bytes */18')
  })

  it('answers 404 in the error shape for missing files, dotfiles and anything outside the web root', async () => {
    for (const url of [
      '/assets/missing-123.js',
      '/.env',
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/assets/%2e%2e/%2e%2e/secret.txt',
      '/icons/..%5c..%5csecret.txt',
    ]) {
      const res = await get(url)
      expect(res.statusCode, url).toBe(404)
      expect(res.body, url).not.toContain('SECRET')
      expect(res.body, url).not.toContain('outside the web root')
      expect(res.json(), url).toMatchObject({ error: { code: 'NOT_FOUND' } })
    }
  })

  it('keeps API paths out of it: /api answers JSON 404s and /v1 answers in OpenAI shape', async () => {
    const api = await get('/api/nothing-here')
    expect(api.statusCode).toBe(404)
    expect(api.json()).toMatchObject({ error: { code: 'NOT_FOUND' } })
    const v1 = await get('/v1/nothing-here')
    expect(v1.statusCode).toBe(404)
    expect(v1.json()).toMatchObject({ error: { type: expect.any(String) as unknown, message: expect.stringContaining('/v1/nothing-here') as unknown } })
  })

  it('uses one route for all of it, not one per file', () => {
    const urls = t.app.routeTable.map((r) => r.url)
    expect(urls).toContain('/*')
    expect(urls.filter((u) => u.startsWith('/assets') || u.startsWith('/icons') || u === '/sw.js' || u === '/index.html')).toEqual([])
  })
})
