import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { AppError } from '../errors'
import { assertUrlAllowed, isAllowlisted, isBlockedAddress, type Resolver } from './ssrf'

const publicResolver: Resolver = async () => [{ address: '93.184.216.34', family: 4 }]
const resolvesTo =
  (...addresses: string[]): Resolver =>
  async () =>
    addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))

async function refusal(url: string, options: Parameters<typeof assertUrlAllowed>[1] = { resolve: publicResolver }) {
  try {
    await assertUrlAllowed(url, options)
  } catch (err) {
    expect(err).toBeInstanceOf(AppError)
    return (err as AppError).code
  }
  return 'ALLOWED'
}

describe('SSRF guard on save (F1)', () => {
  it.each([
    'http://169.254.169.254/latest/meta-data',
    'http://127.0.0.1:6379',
    'http://[::1]:8080/v1',
    'file:///etc/passwd',
    'gopher://127.0.0.1:6379/_INFO',
    'ftp://example.com/',
    'http://10.0.0.8/v1',
    'http://172.16.5.4/',
    'http://192.168.1.1/',
    'http://100.100.100.200/latest/meta-data',
    'http://0.0.0.0:3000/',
    'http://[fe80::1]/',
    'http://[fd00::1]/',
    'http://[::ffff:127.0.0.1]/',
    'http://[::ffff:a9fe:a9fe]/',
    'http://[64:ff9b::a9fe:a9fe]/',
    'http://2130706433/',
    'http://0x7f.0.0.1/',
    'http://0177.0.0.1/',
    'http://017700000001/',
    'http://127.1/',
    'http://localhost:3000/',
    'http://metadata.google.internal/',
    'https://api.example.com@169.254.169.254/',
    'https://user:pass@api.example.com/',
    'https://api.example.com/v1#@169.254.169.254',
    'https://api.example.com/v1?x=1',
    'https://api.example.com\\@169.254.169.254/',
    'https://api.example.com /v1',
    'not a url',
  ])('refuses %s with URL_NOT_ALLOWED', async (url) => {
    expect(await refusal(url)).toBe('URL_NOT_ALLOWED')
  })

  it('refuses a host name that resolves to any internal address', async () => {
    expect(await refusal('https://rebind.example.com/v1', { resolve: resolvesTo('127.0.0.1') })).toBe('URL_NOT_ALLOWED')
    expect(await refusal('https://mixed.example.com/v1', { resolve: resolvesTo('93.184.216.34', '10.1.2.3') })).toBe('URL_NOT_ALLOWED')
    expect(await refusal('https://v6.example.com/v1', { resolve: resolvesTo('::1') })).toBe('URL_NOT_ALLOWED')
    expect(await refusal('https://nx.example.com/v1', { resolve: async () => Promise.reject(new Error('ENOTFOUND')) })).toBe('URL_NOT_ALLOWED')
  })

  it('accepts public https and http bases and normalises the trailing slash', async () => {
    expect(await assertUrlAllowed('https://api.moonshot.cn/v1/', { resolve: publicResolver })).toBe('https://api.moonshot.cn/v1')
    expect(await assertUrlAllowed('https://dashscope.aliyuncs.com', { resolve: publicResolver })).toBe('https://dashscope.aliyuncs.com')
    expect(await assertUrlAllowed('http://8.8.8.8:8080/v1', { resolve: publicResolver })).toBe('http://8.8.8.8:8080/v1')
  })

  it('lets an operator allow-list internal hosts, but keeps the URL shape checks', async () => {
    const allowlist = ['127.0.0.1', 'vllm.internal', '*.corp.example']
    expect(await assertUrlAllowed('http://127.0.0.1:8000/v1', { allowlist })).toBe('http://127.0.0.1:8000/v1')
    expect(await assertUrlAllowed('http://vllm.internal/v1', { allowlist })).toBe('http://vllm.internal/v1')
    expect(await assertUrlAllowed('http://gpu.corp.example/v1', { allowlist, resolve: resolvesTo('10.0.0.9') })).toBe('http://gpu.corp.example/v1')
    expect(await refusal('http://127.0.0.2:8000/v1', { allowlist })).toBe('URL_NOT_ALLOWED')
    expect(await refusal('http://user@127.0.0.1:8000/v1', { allowlist })).toBe('URL_NOT_ALLOWED')
    expect(await refusal('file:///etc/passwd', { allowlist: ['127.0.0.1', ''] })).toBe('URL_NOT_ALLOWED')
    expect(isAllowlisted('evilcorp.example', ['*.corp.example'])).toBe(false)
  })

  it('classifies addresses', () => {
    for (const ip of ['127.0.0.1', '10.255.0.1', '169.254.169.254', '100.64.0.1', '::', '::1', 'fe80::abcd', 'fc00::1', '::ffff:10.0.0.1', '2002:7f00:1::1', 'ff02::1', '224.0.0.1', '255.255.255.255']) {
      expect(isBlockedAddress(ip), ip).toBe(true)
    }
    for (const ip of ['8.8.8.8', '47.93.0.1', '2400:3200::1', '::ffff:8.8.8.8', '172.32.0.1', '100.128.0.1']) {
      expect(isBlockedAddress(ip), ip).toBe(false)
    }
  })
})

/** Every TypeScript source file under `dir`, recursively. */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return sources(path)
    return path.endsWith('.ts') ? [path] : []
  })
}

// Outbound HTTP in provider code must go through providers/http.ts, which uses the caller's
// (possibly SSRF-guarded) dispatcher and never follows redirects.
const RAW_HTTP = [
  /\bfetch\s*\(/,
  /from\s+['"](node:)?(http|https|http2|net|tls|dgram)['"]/,
  /require\(\s*['"](node:)?(http|https|net|tls)['"]\s*\)/,
  /import\s+(?!type\b)[^;]*\b(request|stream|fetch|Client|Pool|connect|pipeline)\b[^;]*from\s+['"]undici['"]/,
  /\bundici\.(request|fetch|stream)\s*\(/,
]

function rawHttpUses(text: string): RegExp[] {
  return RAW_HTTP.filter((re) => re.test(text))
}

describe('outbound HTTP goes through providers/http.ts (F3 lint test)', () => {
  const root = join(import.meta.dirname, '..', 'providers')

  it('detects the patterns it looks for', () => {
    expect(rawHttpUses('const r = await fetch(url)')).toHaveLength(1)
    expect(rawHttpUses("import { request } from 'undici'")).toHaveLength(1)
    expect(rawHttpUses("import http from 'node:http'")).toHaveLength(1)
    expect(rawHttpUses("import type { Dispatcher } from 'undici'")).toHaveLength(0)
  })

  it('finds no raw HTTP client outside providers/http.ts (emulator and tests excluded)', () => {
    const files = sources(root)
      .map((path) => relative(root, path).split('\\').join('/'))
      .filter((rel) => rel !== 'http.ts' && !rel.startsWith('emulator/') && !/\.test\.ts$/.test(rel))
    expect(files.length).toBeGreaterThan(0)
    const offenders = files.flatMap((rel) =>
      rawHttpUses(readFileSync(join(root, rel), 'utf8')).map((re) => `${rel}: ${String(re)}`),
    )
    expect(offenders).toEqual([])
    expect(readFileSync(join(root, 'http.ts'), 'utf8')).toMatch(/dispatcher/)
  })
})
