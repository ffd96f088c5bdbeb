import type { Role } from '@qiao/shared'
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import type { Config } from './config'
import type { Db } from './db/kysely'
import type { KeyObject } from 'node:crypto'

/** RS256 signing keys: the current one signs, earlier ones still verify during a rotation. */
export interface JwtKeySet {
  current: { kid: string; privateKey: KeyObject; publicKey: KeyObject }
  previous: Array<{ kid: string; publicKey: KeyObject }>
}

/** AES-256-GCM master keys for the provider-key vault; `id` is stored with each ciphertext. */
export interface MasterKeySet {
  current: { id: string; key: Buffer }
  old: Array<{ id: string; key: Buffer }>
}

/** Who a route expects. Every route declares one (checked when routes are registered). */
export type RouteAuth = 'public' | 'user' | 'admin' | 'apiKey'

/** The caller of an authenticated route, as re-read from the database on this request. */
export interface AuthUser {
  id: string
  role: Role
  /** The refresh-token family (session) the access token was issued for, if any. */
  sessionId: string | null
}

/** The caller of an `apiKey` route (/v1): a personal API key, as authenticated on this request. */
export interface ApiKeyCaller {
  apiKeyId: string
  userId: string
  /** Model ids the key may call; null = every model its owner may use. */
  allowedModels: ReadonlySet<string> | null
  /** Micro-yuan per UTC calendar month; null = no limit beyond the balance. */
  monthlyLimit: number | null
}

/** Everything buildApp needs from the outside world. Created by main.ts (or a test). */
export interface AppDeps {
  config: Readonly<Config>
  db: Db
  logger: FastifyBaseLogger
  redis?: Redis | undefined
  jwtKeys: JwtKeySet
  masterKeys: MasterKeySet
  /** Injected clock so tests can move time (token expiry, lockouts). */
  now?: () => Date
  /** The built web app to serve; by default apps/web/dist when it exists (`npm run build`). */
  webRoot?: string
}

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RouteAuth
  }
  interface FastifyRequest {
    /** Set by the auth hook on `user` and `admin` routes; null elsewhere. */
    user: AuthUser | null
    /** Set by the auth hook on `apiKey` routes; null elsewhere. */
    apiKey: ApiKeyCaller | null
  }
}
