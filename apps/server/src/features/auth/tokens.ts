import { createHash, type KeyObject } from 'node:crypto'
import { exportJWK, jwtVerify, SignJWT, type JWTHeaderParameters } from 'jose'
import type { Jwks } from '@qiao/shared'
import type { JwtKeySet } from '../../context'

/** Access tokens live 15 minutes; revocation is immediate anyway through the per-request DB check. */
export const ACCESS_TOKEN_TTL_S = 15 * 60
export const AUDIENCE = 'qiao'

export interface AccessClaims {
  userId: string
  sessionId: string
  tokenVersion: number
}

/** SHA-256 hex of a refresh token: what the database stores instead of the token. */
export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex')
}

/**
 * Signs and verifies our RS256 access tokens. Verification trusts only keys we hold (the
 * current one and configured previous ones, by `kid`), pins the algorithm, and ignores any key
 * material a token carries in its header (`jwk`, `jku`, `x5u`): RFC 8725 §3.1–3.2.
 */
export function createTokenSigner(options: { keys: JwtKeySet; issuer: string; now: () => Date }) {
  const { keys, issuer, now } = options
  // A Map, not an object: a `kid` of "__proto__" or "constructor" must find nothing.
  const verifyKeys = new Map<string, KeyObject>([[keys.current.kid, keys.current.publicKey]])
  for (const p of keys.previous) if (!verifyKeys.has(p.kid)) verifyKeys.set(p.kid, p.publicKey)

  return {
    async sign(claims: AccessClaims): Promise<string> {
      const iat = Math.floor(now().getTime() / 1000)
      return new SignJWT({ sid: claims.sessionId, ver: claims.tokenVersion, typ: 'access' })
        .setProtectedHeader({ alg: 'RS256', kid: keys.current.kid, typ: 'JWT' })
        .setSubject(claims.userId)
        .setIssuer(issuer)
        .setAudience(AUDIENCE)
        .setIssuedAt(iat)
        .setExpirationTime(iat + ACCESS_TOKEN_TTL_S)
        .sign(keys.current.privateKey)
    },

    /** The claims of a valid access token, or undefined for anything else (never throws). */
    async verify(token: string): Promise<AccessClaims | undefined> {
      try {
        const { payload } = await jwtVerify(
          token,
          (header: JWTHeaderParameters) => {
            const key = typeof header.kid === 'string' ? verifyKeys.get(header.kid) : undefined
            if (!key) throw new Error('unknown kid')
            return key
          },
          {
            algorithms: ['RS256'],
            issuer,
            audience: AUDIENCE,
            currentDate: now(),
            requiredClaims: ['sub', 'exp', 'iat'],
            clockTolerance: 5,
          },
        )
        const { sub, sid, ver, typ } = payload as { sub?: unknown; sid?: unknown; ver?: unknown; typ?: unknown }
        if (typ !== 'access' || typeof sub !== 'string' || typeof sid !== 'string') return undefined
        if (typeof ver !== 'number' || !Number.isInteger(ver)) return undefined
        return { userId: sub, sessionId: sid, tokenVersion: ver }
      } catch {
        return undefined
      }
    },

    /** The public JWKS: every key a client may meet in a valid token. */
    async jwks(): Promise<Jwks> {
      const out: Jwks['keys'] = []
      for (const [kid, key] of verifyKeys) {
        const jwk = await exportJWK(key)
        out.push({ kty: jwk.kty ?? 'RSA', kid, alg: 'RS256', use: 'sig', n: jwk.n ?? '', e: jwk.e ?? '' })
      }
      return { keys: out }
    },
  }
}
export type TokenSigner = ReturnType<typeof createTokenSigner>
