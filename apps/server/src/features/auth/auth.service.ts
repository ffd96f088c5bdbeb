import { createHash, randomInt } from 'node:crypto'
import {
  PreferencesSchema,
  type AuthResult,
  type ChangePasswordBody,
  type LoginBody,
  type Preferences,
  type RegisterBody,
  type Session,
  type UpdateMeBody,
  type User,
} from '@qiao/shared'
import type { FastifyRequest } from 'fastify'
import type { AppDeps, AuthUser } from '../../context'
import { isUniqueViolation } from '../../db/kysely'
import { AppError, notFound, unauthenticated } from '../../errors'
import { newId, randomToken } from '../../ids'
import { createThrottleStore, ThrottleUnavailableError, type ThrottleStore } from '../../platform/throttle'
import type { AuditService } from '../audit/audit.service'
import type { BillingService } from '../billing/billing.service'
import type { SettingsService } from '../settings/settings.service'
import { createAuthRepo, type UserRow } from './auth.repo'
import { bcryptCost, checkPasswordPolicy, hashPassword, verifyPassword } from './passwords'
import { ACCESS_TOKEN_TTL_S, createTokenSigner, hashRefreshToken } from './tokens'

/** Refresh tokens (one family = one sign-in = one session) live 30 days from their last rotation. */
export const REFRESH_TOKEN_TTL_MS = 30 * 24 * 3600 * 1000

/**
 * Throttling (SECURITY.md A4). Per account: 10 failed passwords lock the account for 15 minutes
 * (in SQL, so it survives restarts and is shared by every instance). Per IP: 50 failed logins
 * within 15 minutes across any accounts. Unknown accounts are counted by login name in the
 * throttle store with the same numbers, so locked and unknown accounts behave alike.
 */
export const LOGIN_LIMITS = {
  accountFailures: 10,
  accountLockMs: 15 * 60 * 1000,
  ipFailures: 50,
  ipWindowMs: 15 * 60 * 1000,
  /** Accounts created per IP per hour (no credit farming by scripted sign-ups, G4). */
  signupsPerIp: 30,
  signupWindowMs: 60 * 60 * 1000,
} as const

/** Who is calling, for sessions and the audit trail. */
export interface ClientContext {
  ip: string
  userAgent?: string | undefined
}

const BEARER_RE = /^Bearer ([A-Za-z0-9_\-.]{1,4096})$/i

/** A short, human label for a session ("Chrome on Windows"); the raw agent when unrecognised. */
export function describeDevice(userAgent: string | undefined): string | null {
  if (!userAgent) return null
  const browsers: Array<[RegExp, string]> = [
    [/Edg\//, 'Edge'],
    [/OPR\/|Opera/, 'Opera'],
    [/MicroMessenger/, 'WeChat'],
    [/Firefox\//, 'Firefox'],
    [/Chrome\//, 'Chrome'],
    [/Safari\//, 'Safari'],
    [/curl\//, 'curl'],
  ]
  const systems: Array<[RegExp, string]> = [
    [/Windows/, 'Windows'],
    [/iPhone|iPad|iOS/, 'iOS'],
    [/Android/, 'Android'],
    [/Mac OS X|Macintosh/, 'macOS'],
    [/Linux/, 'Linux'],
  ]
  const browser = browsers.find(([re]) => re.test(userAgent))?.[1]
  const system = systems.find(([re]) => re.test(userAgent))?.[1]
  if (browser && system) return `${browser} on ${system}`
  return (browser ?? system ?? userAgent).slice(0, 255)
}

function parsePreferences(json: string): Preferences {
  try {
    const parsed = PreferencesSchema.safeParse(JSON.parse(json))
    return parsed.success ? parsed.data : {}
  } catch {
    return {}
  }
}

/** The public view of an account: never the hash, counters or token version. */
export function toUser(row: UserRow): User {
  return {
    id: row.id,
    email: row.email,
    username: row.username,
    displayName: row.displayName,
    role: row.role,
    status: row.status,
    balance: Number(row.balance),
    createdAt: row.createdAt,
    preferences: parsePreferences(row.preferences),
  }
}

const invalidCredentials = () => new AppError('AUTH_INVALID_CREDENTIALS', 'The account or password is not correct')
/** A 429 with `Retry-After` and the `x-ratelimit-*` headers of API.md. */
function limited(code: 'TOO_MANY_ATTEMPTS' | 'RATE_LIMITED', message: string, limit: number, ms: number): AppError {
  const seconds = Math.max(1, Math.ceil(ms / 1000))
  return new AppError(code, message, {
    retryAfter: seconds,
    headers: { 'x-ratelimit-limit': String(limit), 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(seconds) },
  })
}
const tooManyAttempts = (ms: number, limit: number = LOGIN_LIMITS.accountFailures) =>
  limited('TOO_MANY_ATTEMPTS', 'Too many failed attempts; please try again later', limit, ms)

// 20 characters from an alphabet without look-alikes (0/O, 1/l/I): ~115 bits.
const ADMIN_PASSWORD_ALPHABET = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789'
function randomPassword(length = 20): string {
  let out = ''
  for (let i = 0; i < length; i++) out += ADMIN_PASSWORD_ALPHABET[randomInt(ADMIN_PASSWORD_ALPHABET.length)]
  return out
}

export function createAuthService(
  deps: AppDeps,
  { audit, settings, billing }: { audit: AuditService; settings: SettingsService; billing: BillingService },
) {
  const repo = createAuthRepo(deps.db)
  const now = () => (deps.now ? deps.now() : new Date())
  const signer = createTokenSigner({ keys: deps.jwtKeys, issuer: deps.config.QIAO_PUBLIC_URL, now })
  const cost = bcryptCost(deps.config.NODE_ENV)
  // In tests, counters are namespaced by the (private, per-test) data dir, so suites sharing one
  // Redis never see each other's counters while two app instances of one test still share them.
  const throttle: ThrottleStore = createThrottleStore({
    redis: deps.redis,
    now: deps.now,
    prefix:
      deps.config.NODE_ENV === 'test'
        ? `qiao:throttle:${createHash('sha256').update(deps.config.QIAO_DATA_DIR).digest('hex').slice(0, 12)}:`
        : undefined,
  })

  // Unknown accounts are checked against this hash so they cost the same bcrypt time as real ones.
  let dummyHash: Promise<string> | undefined
  const getDummyHash = () => (dummyHash ??= hashPassword(randomToken(16), cost))

  /** Throttle counters fail closed: without the shared store we refuse rather than allow unlimited guesses. */
  async function guard<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op()
    } catch (err) {
      if (err instanceof ThrottleUnavailableError) {
        deps.logger.error(
          { err: err.cause instanceof Error ? err.cause.message : String(err.cause) },
          'throttle store unavailable',
        )
        throw new AppError('SERVICE_UNAVAILABLE', 'Sign-in is temporarily unavailable', { retryAfter: 5 })
      }
      throw err
    }
  }

  async function startSession(user: UserRow, ctx: ClientContext): Promise<AuthResult> {
    const at = now()
    const familyId = newId(at.getTime())
    const refreshToken = randomToken(32)
    await repo.insertRefreshToken({
      id: newId(at.getTime()),
      userId: user.id,
      familyId,
      tokenHash: hashRefreshToken(refreshToken),
      status: 'active',
      device: describeDevice(ctx.userAgent),
      ip: ctx.ip.slice(0, 64),
      createdAt: at.toISOString(),
      lastUsedAt: at.toISOString(),
      expiresAt: new Date(at.getTime() + REFRESH_TOKEN_TTL_MS).toISOString(),
      revokedAt: null,
      revokedReason: null,
    })
    const accessToken = await signer.sign({ userId: user.id, sessionId: familyId, tokenVersion: user.tokenVersion })
    return { user: toUser(user), accessToken, refreshToken, expiresIn: ACCESS_TOKEN_TTL_S }
  }

  async function findByLogin(login: string): Promise<UserRow | undefined> {
    const normalized = login.trim().toLowerCase()
    return normalized.includes('@') ? repo.findUserByEmail(normalized) : repo.findUserByUsername(normalized)
  }

  /** Counts a failed password for a known account; locks it at the threshold. */
  async function countAccountFailure(user: UserRow, ctx: ClientContext): Promise<void> {
    const failures = await repo.addFailedLogin(user.id)
    if (failures >= LOGIN_LIMITS.accountFailures) {
      await repo.lockUser(user.id, new Date(now().getTime() + LOGIN_LIMITS.accountLockMs).toISOString())
      await audit.record({
        actorId: user.id,
        action: 'auth.account_locked',
        targetType: 'user',
        targetId: user.id,
        severity: 'warning',
        ip: ctx.ip,
        userAgent: ctx.userAgent,
        details: { failures },
      })
    }
  }

  function lockRemainingMs(user: UserRow): number {
    return user.lockedUntil ? new Date(user.lockedUntil).getTime() - now().getTime() : 0
  }

  /**
   * New accounts get the configured sign-up credit as a ledger entry (ref `signup:<id>`, so it is
   * granted once). A failure here must not fail the sign-up that already happened: it is logged
   * and an admin can credit the account.
   */
  async function grantSignupCredit(row: UserRow, amount: number): Promise<void> {
    if (amount <= 0) return
    try {
      const { entry } = await billing.credit({
        userId: row.id,
        delta: amount,
        reason: 'signup',
        ref: `signup:${row.id}`,
        note: 'Sign-up credit',
      })
      row.balance = entry.balanceAfter
    } catch (err) {
      deps.logger.error({ err, userId: row.id }, 'could not grant the sign-up credit')
    }
  }

  const service = {
    async register(body: RegisterBody, ctx: ClientContext): Promise<AuthResult> {
      // Fresh, not cached: closing registration takes effect at once on every instance.
      const platform = await settings.get({ fresh: true })
      if (!platform.registrationOpen) throw new AppError('REGISTRATION_CLOSED', 'Registration is closed')
      const signupKey = `signup:ip:${ctx.ip}`
      const signups = await guard(() => throttle.peek(signupKey))
      if (signups.count >= LOGIN_LIMITS.signupsPerIp) {
        throw limited(
          'RATE_LIMITED',
          'Too many accounts were created from this network; please try later',
          LOGIN_LIMITS.signupsPerIp,
          signups.resetInMs,
        )
      }
      checkPasswordPolicy(body.password)
      const email = body.email.trim().toLowerCase()
      const username = body.username ? body.username.toLowerCase() : null
      // Friendly early answers; the unique indexes below remain the real guarantee under races.
      if (await repo.findUserByEmail(email)) throw new AppError('EMAIL_TAKEN', 'This email is already registered')
      if (username && (await repo.findUserByUsername(username))) {
        throw new AppError('USERNAME_TAKEN', 'This username is already taken')
      }
      const at = now().toISOString()
      const row: UserRow = {
        id: newId(),
        email,
        username,
        phone: null,
        displayName: body.displayName ?? null,
        passwordHash: await hashPassword(body.password, cost),
        role: 'user',
        status: 'active',
        tokenVersion: 0,
        failedLoginCount: 0,
        lockedUntil: null,
        balance: 0,
        preferences: '{}',
        createdAt: at,
        updatedAt: at,
      }
      try {
        await repo.insertUser(row)
      } catch (err) {
        if (!isUniqueViolation(err)) throw err
        if (await repo.findUserByEmail(email)) throw new AppError('EMAIL_TAKEN', 'This email is already registered')
        throw new AppError('USERNAME_TAKEN', 'This username is already taken')
      }
      await guard(() => throttle.hit(signupKey, LOGIN_LIMITS.signupWindowMs))
      await grantSignupCredit(row, platform.defaultBalance)
      await audit.record({
        actorId: row.id,
        action: 'auth.register',
        targetType: 'user',
        targetId: row.id,
        ip: ctx.ip,
        userAgent: ctx.userAgent,
      })
      return startSession(row, ctx)
    },

    /**
     * Email or username + password. Unknown account and wrong password answer identically and
     * take about the same time (a dummy bcrypt verification); every outcome is audited.
     */
    async login(body: LoginBody, ctx: ClientContext): Promise<AuthResult> {
      const ipKey = `login:ip:${ctx.ip}`
      const byIp = await guard(() => throttle.peek(ipKey))
      if (byIp.count >= LOGIN_LIMITS.ipFailures) {
        await audit.record({
          actorId: null,
          action: 'auth.login_throttled',
          severity: 'warning',
          ip: ctx.ip,
          userAgent: ctx.userAgent,
          details: { scope: 'ip' },
        })
        throw tooManyAttempts(byIp.resetInMs, LOGIN_LIMITS.ipFailures)
      }

      const user = await findByLogin(body.login)
      // Unknown names are throttled by a digest of the name, never by the name itself.
      const nameKey = `login:name:${createHash('sha256').update(body.login.trim().toLowerCase()).digest('hex')}`
      let lockedMs = 0
      if (user) {
        lockedMs = lockRemainingMs(user)
      } else {
        const byName = await guard(() => throttle.peek(nameKey))
        if (byName.count >= LOGIN_LIMITS.accountFailures) lockedMs = byName.resetInMs
      }
      if (lockedMs > 0) {
        await audit.record({
          actorId: user?.id ?? null,
          action: 'auth.login_throttled',
          targetType: user ? 'user' : undefined,
          targetId: user?.id,
          severity: 'warning',
          ip: ctx.ip,
          userAgent: ctx.userAgent,
          details: { scope: 'account' },
        })
        throw tooManyAttempts(lockedMs)
      }

      const ok = await verifyPassword(body.password, user ? user.passwordHash : await getDummyHash())
      if (!user || !ok) {
        await guard(() => throttle.hit(ipKey, LOGIN_LIMITS.ipWindowMs))
        if (user) await countAccountFailure(user, ctx)
        else await guard(() => throttle.hit(nameKey, LOGIN_LIMITS.accountLockMs))
        await audit.record({
          actorId: null,
          action: 'auth.login_failed',
          targetType: user ? 'user' : undefined,
          targetId: user?.id,
          severity: 'warning',
          ip: ctx.ip,
          userAgent: ctx.userAgent,
          details: { reason: user ? 'wrong_password' : 'unknown_account' },
        })
        throw invalidCredentials()
      }
      if (user.status !== 'active') {
        await audit.record({
          actorId: user.id,
          action: 'auth.login_disabled',
          targetType: 'user',
          targetId: user.id,
          severity: 'warning',
          ip: ctx.ip,
          userAgent: ctx.userAgent,
        })
        throw new AppError('ACCOUNT_DISABLED', 'This account has been disabled')
      }
      await repo.clearFailedLogins(user.id)
      await audit.record({
        actorId: user.id,
        action: 'auth.login',
        targetType: 'user',
        targetId: user.id,
        ip: ctx.ip,
        userAgent: ctx.userAgent,
      })
      return startSession(user, ctx)
    },

    /**
     * Rotation with reuse detection (OAuth 2.1 §6.1): a token is spent once. Presenting a spent
     * token means it was copied, so the whole family, the newest token included, is revoked.
     */
    async refresh(token: string | undefined, ctx: ClientContext): Promise<AuthResult> {
      const invalid = () => new AppError('AUTH_TOKEN_INVALID', 'The session has expired; please sign in again')
      if (!token) throw invalid()
      const row = await repo.findRefreshTokenByHash(hashRefreshToken(token))
      if (!row) throw invalid()
      const at = now()
      if (row.status === 'rotated') {
        await repo.revokeFamily({ userId: row.userId, familyId: row.familyId, reason: 'reuse', at: at.toISOString() })
        await audit.record({
          actorId: row.userId,
          action: 'auth.refresh_reused',
          targetType: 'session',
          targetId: row.familyId,
          severity: 'high',
          ip: ctx.ip,
          userAgent: ctx.userAgent,
        })
        throw new AppError('AUTH_TOKEN_REUSED', 'This session was signed out for your safety; please sign in again')
      }
      if (row.status !== 'active' || row.expiresAt <= at.toISOString()) throw invalid()
      const user = await repo.findUserById(row.userId)
      if (!user || user.status !== 'active') {
        await repo.revokeFamily({
          userId: row.userId,
          familyId: row.familyId,
          reason: 'disabled',
          at: at.toISOString(),
        })
        throw new AppError('ACCOUNT_DISABLED', 'This account has been disabled')
      }
      const next = randomToken(32)
      const rotated = await repo.rotateRefreshToken(row.id, {
        id: newId(at.getTime()),
        userId: row.userId,
        familyId: row.familyId,
        tokenHash: hashRefreshToken(next),
        status: 'active',
        device: row.device,
        ip: ctx.ip.slice(0, 64),
        createdAt: at.toISOString(),
        lastUsedAt: at.toISOString(),
        expiresAt: new Date(at.getTime() + REFRESH_TOKEN_TTL_MS).toISOString(),
        revokedAt: null,
        revokedReason: null,
      })
      // A concurrent refresh of the same token won the race: this one fails without revoking the
      // family (two tabs refreshing at once is not theft; a later replay is caught above).
      if (!rotated) throw invalid()
      const accessToken = await signer.sign({
        userId: user.id,
        sessionId: row.familyId,
        tokenVersion: user.tokenVersion,
      })
      return { user: toUser(user), accessToken, refreshToken: next, expiresIn: ACCESS_TOKEN_TTL_S }
    },

    /** Ends the session the refresh token belongs to. Always succeeds (nothing to reveal). */
    async logout(token: string | undefined, ctx: ClientContext): Promise<void> {
      if (!token) return
      const row = await repo.findRefreshTokenByHash(hashRefreshToken(token))
      if (!row || row.status === 'revoked') return
      await repo.revokeFamily({ userId: row.userId, familyId: row.familyId, reason: 'logout', at: now().toISOString() })
      await audit.record({
        actorId: row.userId,
        action: 'auth.logout',
        targetType: 'session',
        targetId: row.familyId,
        ip: ctx.ip,
        userAgent: ctx.userAgent,
      })
    },

    /**
     * Resolves the caller of a `user`/`admin` route from its Bearer access token. The token
     * proves identity; the role, status, token version and session liveness come from the
     * database on every request, so revocation and role changes apply immediately (A6, B4).
     */
    async authenticate(request: FastifyRequest): Promise<AuthUser> {
      const header = request.headers.authorization
      if (!header) throw unauthenticated()
      const match = BEARER_RE.exec(header)
      const claims = match ? await signer.verify(match[1]!) : undefined
      if (!claims) throw unauthenticated('The access token is invalid or has expired')
      const row = await repo.findAuthRow(claims.userId, claims.sessionId)
      if (!row) throw unauthenticated('The access token is invalid or has expired')
      if (row.status !== 'active') throw new AppError('ACCOUNT_DISABLED', 'This account has been disabled')
      if (Number(row.tokenVersion) !== claims.tokenVersion || !Number(row.sessionAlive)) {
        throw unauthenticated('This session has ended; please sign in again')
      }
      return { id: row.id, role: row.role, sessionId: claims.sessionId }
    },

    async listSessions(user: AuthUser): Promise<Session[]> {
      const tokens = await repo.listActiveTokens(user.id, now().toISOString())
      const starts = await repo.familyStarts(
        user.id,
        tokens.map((t) => t.familyId),
      )
      return tokens.map((t) => ({
        id: t.familyId,
        device: t.device,
        ip: t.ip,
        createdAt: starts.get(t.familyId) ?? t.createdAt,
        lastUsedAt: t.lastUsedAt,
        current: t.familyId === user.sessionId,
      }))
    },

    /** Signs one of the caller's own sessions out. Another user's session id answers 404. */
    async revokeSession(user: AuthUser, sessionId: string, ctx: ClientContext): Promise<void> {
      const changed = await repo.revokeFamily({
        userId: user.id,
        familyId: sessionId,
        reason: 'user',
        at: now().toISOString(),
      })
      if (!changed) throw notFound('Session')
      await audit.record({
        actorId: user.id,
        action: 'auth.session_revoked',
        targetType: 'session',
        targetId: sessionId,
        ip: ctx.ip,
        userAgent: ctx.userAgent,
      })
    },

    /** Ends every session of a user at once (disable, admin action). */
    async revokeAllSessions(userId: string, reason: string): Promise<number> {
      return repo.revokeAllFamilies({ userId, reason, at: now().toISOString() })
    },

    async getMe(userId: string): Promise<User> {
      const row = await repo.findUserById(userId)
      if (!row) throw notFound('User')
      return toUser(row)
    },

    async updateMe(userId: string, body: UpdateMeBody): Promise<User> {
      const row = await repo.findUserById(userId)
      if (!row) throw notFound('User')
      const patch: { displayName?: string | null; preferences?: string; updatedAt: string } = {
        updatedAt: now().toISOString(),
      }
      if (body.displayName !== undefined) patch.displayName = body.displayName
      if (body.preferences !== undefined) {
        // Merge: a client that only knows `theme` does not wipe `language`.
        patch.preferences = JSON.stringify({ ...parsePreferences(row.preferences), ...body.preferences })
      }
      await repo.updateProfile(userId, patch)
      return service.getMe(userId)
    },

    /**
     * Requires the current password (throttled like a login), applies the policy to the new one,
     * and signs out every other session; the caller's own session continues.
     */
    async changePassword(user: AuthUser, body: ChangePasswordBody, ctx: ClientContext): Promise<void> {
      const row = await repo.findUserById(user.id)
      if (!row) throw unauthenticated()
      const lockedMs = lockRemainingMs(row)
      if (lockedMs > 0) throw tooManyAttempts(lockedMs)
      if (!(await verifyPassword(body.currentPassword, row.passwordHash))) {
        await countAccountFailure(row, ctx)
        await audit.record({
          actorId: user.id,
          action: 'auth.password_change_failed',
          targetType: 'user',
          targetId: user.id,
          severity: 'warning',
          ip: ctx.ip,
          userAgent: ctx.userAgent,
        })
        throw new AppError('VALIDATION_FAILED', 'The current password is not correct', {
          details: [{ path: '/currentPassword', message: 'The current password is not correct' }],
        })
      }
      checkPasswordPolicy(body.newPassword)
      const at = now().toISOString()
      await repo.setPasswordHash(user.id, await hashPassword(body.newPassword, cost), at)
      await repo.clearFailedLogins(user.id)
      const revoked = await repo.revokeAllFamilies({
        userId: user.id,
        exceptFamilyId: user.sessionId,
        reason: 'password_changed',
        at,
      })
      await audit.record({
        actorId: user.id,
        action: 'auth.password_changed',
        targetType: 'user',
        targetId: user.id,
        severity: 'warning',
        ip: ctx.ip,
        userAgent: ctx.userAgent,
        details: { otherSessionsRevoked: revoked },
      })
    },

    jwks: () => signer.jwks(),

    /**
     * First start: when no admin exists, creates one from QIAO_ADMIN_EMAIL / QIAO_ADMIN_PASSWORD,
     * or with a random password the caller shows once. Does nothing when an admin exists.
     */
    async bootstrapAdmin(): Promise<{ email: string; generatedPassword: string | undefined } | undefined> {
      if ((await repo.countAdmins()) > 0) return undefined
      const email = (deps.config.QIAO_ADMIN_EMAIL ?? 'admin@qiao.local').toLowerCase()
      const configured = deps.config.QIAO_ADMIN_PASSWORD
      if (configured) checkPasswordPolicy(configured)
      const password = configured ?? randomPassword()
      if (await repo.findUserByEmail(email)) {
        // Never silently promote an existing account: an operator must decide.
        throw new Error(
          `No admin exists, and ${email} belongs to an ordinary account; set QIAO_ADMIN_EMAIL to a new address`,
        )
      }
      const at = now().toISOString()
      const id = newId()
      try {
        await repo.insertUser({
          id,
          email,
          username: null,
          phone: null,
          displayName: 'Administrator',
          passwordHash: await hashPassword(password, cost),
          role: 'admin',
          status: 'active',
          tokenVersion: 0,
          failedLoginCount: 0,
          lockedUntil: null,
          balance: 0,
          preferences: '{}',
          createdAt: at,
          updatedAt: at,
        })
      } catch (err) {
        // Another instance booting at the same moment created it first.
        if (isUniqueViolation(err) && (await repo.countAdmins()) > 0) return undefined
        throw err
      }
      await audit.record({
        actorId: null,
        action: 'admin.bootstrapped',
        targetType: 'user',
        targetId: id,
        severity: 'high',
      })
      return { email, generatedPassword: configured ? undefined : password }
    },
  }
  return service
}
export type AuthService = ReturnType<typeof createAuthService>
