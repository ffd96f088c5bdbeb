import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { isIP, type LookupFunction } from 'node:net'
import type { Dispatcher } from 'undici'
import { Agent, buildConnector } from './undici'
import { AppError } from '../errors'

/**
 * The SSRF guard for upstream URLs an admin types in (SECURITY.md F1, F3). Two layers:
 * - on save, `assertUrlAllowed` refuses odd URLs and hosts that are, or resolve to, internal
 *   addresses;
 * - on every connection, the guarded dispatcher checks the address the socket is about to use,
 *   so a DNS answer that changes after the save (rebinding) is still refused.
 * Hosts an operator lists in QIAO_UPSTREAM_ALLOWLIST skip the address check (not the URL checks).
 */

/** Resolves a host name to every address, like `dns.lookup(host, { all: true })`. */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>

export interface GuardOptions {
  /** Host names (exact, or `*.example.com` / `.example.com` for subdomains) trusted as given. */
  allowlist?: readonly string[] | undefined
  /** Replaces the system resolver (tests). */
  resolve?: Resolver
}

const systemResolve: Resolver = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses)))
  })

// Ranges no upstream model API lives in: private, loopback, link-local (cloud metadata included),
// CGNAT (Alibaba Cloud metadata is 100.100.100.200), benchmarking, multicast and reserved.
const BLOCKED_V4: Array<[string, number]> = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
]

const BLOCKED_NAMES = [/^localhost$/i, /\.localhost$/i, /\.local$/i, /\.internal$/i, /^metadata$/i]

function v4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0)
}

function v4Blocked(ip: string): boolean {
  const value = v4ToInt(ip)
  return BLOCKED_V4.some(([base, bits]) => {
    const size = 2 ** (32 - bits)
    const start = v4ToInt(base)
    return value >= start && value < start + size
  })
}

/** Expands an IPv6 address (any spelling, embedded IPv4 allowed) into 8 16-bit groups. */
function v6Groups(ip: string): number[] {
  let text = ip.replace(/^\[|\]$/g, '').split('%')[0]!.toLowerCase()
  const lastColon = text.lastIndexOf(':')
  const tail = text.slice(lastColon + 1)
  if (tail.includes('.')) {
    const n = v4ToInt(tail)
    text = `${text.slice(0, lastColon + 1)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`
  }
  const [head, rest] = text.split('::') as [string, string | undefined]
  const left = head ? head.split(':') : []
  const right = rest === undefined ? [] : rest ? rest.split(':') : []
  const missing = 8 - left.length - right.length
  const groups = [...left, ...Array<string>(rest === undefined ? 0 : missing).fill('0'), ...right]
  return groups.map((g) => parseInt(g, 16))
}

function embeddedV4(groups: number[], at: number): string {
  const hi = groups[at]!
  const lo = groups[at + 1]!
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`
}

function v6Blocked(ip: string): boolean {
  const g = v6Groups(ip)
  if (g.length !== 8 || g.some((x) => Number.isNaN(x))) return true
  const first = g[0]!
  if (g.every((x) => x === 0)) return true // :: unspecified
  if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return true // ::1 loopback
  // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d): judge the IPv4 inside.
  if (g.slice(0, 5).every((x) => x === 0) && (g[5] === 0xffff || g[5] === 0)) return v4Blocked(embeddedV4(g, 6))
  if (first === 0x64 && g[1] === 0xff9b) return v4Blocked(embeddedV4(g, 6))
  if (first === 0x2002) return v4Blocked(embeddedV4(g, 1)) // 6to4 carries an IPv4 in bits 16..48
  if ((first & 0xfe00) === 0xfc00) return true // fc00::/7 unique local
  if ((first & 0xffc0) === 0xfe80) return true // fe80::/10 link-local
  if ((first & 0xffc0) === 0xfec0) return true // fec0::/10 deprecated site-local
  if ((first & 0xff00) === 0xff00) return true // multicast
  if (first === 0x2001 && g[1] === 0x0db8) return true // documentation
  return false
}

/** True when an IP address (v4 or v6, canonical text) is one an upstream must never be. */
export function isBlockedAddress(ip: string): boolean {
  const bare = ip.replace(/^\[|\]$/g, '')
  const family = isIP(bare)
  if (family === 4) return v4Blocked(bare)
  if (family === 6) return v6Blocked(bare)
  return true
}

export function isAllowlisted(hostname: string, allowlist: readonly string[] | undefined): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase()
  return (allowlist ?? []).some((entry) => {
    const e = entry.trim().toLowerCase()
    if (!e) return false
    if (e.startsWith('*.')) return host.endsWith(e.slice(1))
    if (e.startsWith('.')) return host.endsWith(e)
    return host === e
  })
}

function refuse(message: string): AppError {
  return new AppError('URL_NOT_ALLOWED', message)
}

/**
 * Checks a URL an admin wants to save as an upstream base. Throws AppError URL_NOT_ALLOWED.
 * Returns the normalised URL (no trailing slash).
 */
export async function assertUrlAllowed(raw: string, options: GuardOptions = {}): Promise<string> {
  const text = raw.trim()
  // Refuse characters that make parsers disagree about which host is meant (userinfo, fragments,
  // queries, backslashes, whitespace and control characters) before parsing at all.
  // eslint-disable-next-line no-control-regex
  if (/[@#?\\\s\u0000-\u001f\u007f]/.test(text)) {
    throw refuse('The URL must not contain "@", "#", "?", backslashes or spaces')
  }
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw refuse('The URL is not valid')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw refuse('Only http and https URLs are allowed')
  if (url.username || url.password || url.search || url.hash) throw refuse('The URL must not carry credentials, a query or a fragment')
  // The WHATWG parser already turned decimal, octal and hex IPv4 spellings into dotted quads.
  const host = url.hostname.replace(/^\[|\]$/g, '')
  if (!host) throw refuse('The URL has no host')
  if (!isAllowlisted(host, options.allowlist)) {
    if (isIP(host)) {
      if (isBlockedAddress(host)) throw refuse('The URL points at a private, loopback or link-local address')
    } else {
      if (BLOCKED_NAMES.some((re) => re.test(host))) throw refuse('The URL points at an internal host name')
      let addresses: LookupAddress[]
      try {
        addresses = await (options.resolve ?? systemResolve)(host)
      } catch {
        throw refuse('The host name does not resolve')
      }
      if (addresses.length === 0) throw refuse('The host name does not resolve')
      if (addresses.some((a) => isBlockedAddress(a.address))) {
        throw refuse('The host name resolves to a private, loopback or link-local address')
      }
    }
  }
  return url.toString().replace(/\/+$/, '')
}

/** Error raised inside the connector when the address a socket would use is refused. */
export class BlockedAddressError extends Error {
  override readonly name = 'BlockedAddressError'
  readonly code = 'ERR_QIAO_SSRF_BLOCKED'
}

/**
 * An undici dispatcher that refuses, at connect time, every address the guard forbids: IP
 * literals directly, host names through a `lookup` that checks every address the resolver
 * returned (not just the one it picks). Undici's `request` does not follow redirects, and the
 * adapters never enable following, so a 302 to an internal address is an error, not a hop.
 */
export function createGuardedDispatcher(options: GuardOptions & { connectTimeoutMs?: number } = {}): Dispatcher {
  const resolver = options.resolve ?? systemResolve
  const lookup = ((hostname: string, opts: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    resolver(hostname).then(
      (addresses) => {
        const bad = addresses.find((a) => isBlockedAddress(a.address))
        if (addresses.length === 0) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }))
        if (bad) return callback(new BlockedAddressError(`refused to connect to ${hostname}: internal address`))
        if (opts.all) return callback(null, addresses)
        const first = addresses[0]!
        return callback(null, first.address, first.family)
      },
      (err: unknown) => callback(err),
    )
  }) as unknown as LookupFunction
  const timeout = options.connectTimeoutMs ?? 10_000
  const connector = buildConnector({ lookup, timeout })
  // Allow-listed hosts connect as usual, through the system resolver, without the address check.
  const plainConnector = buildConnector({ timeout })
  return new Agent({
    connect: (opts, callback) => {
      const host = opts.hostname.replace(/^\[|\]$/g, '')
      if (!isAllowlisted(host, options.allowlist)) {
        if (isIP(host) ? isBlockedAddress(host) : BLOCKED_NAMES.some((re) => re.test(host))) {
          callback(new BlockedAddressError(`refused to connect to ${host}: internal address`), null)
          return
        }
        connector(opts, callback)
        return
      }
      plainConnector(opts, callback)
    },
  })
}
