import { affectedRows, type Db } from '../../db/kysely'
import type { RefreshTokensTable, UsersTable } from '../../db/schema'

export type UserRow = UsersTable
export type RefreshTokenRow = RefreshTokensTable

/** What `authenticate` needs about the caller, read in one query. */
export interface AuthRow {
  id: string
  role: UsersTable['role']
  status: UsersTable['status']
  tokenVersion: number
  /** 1/true when the session family still has an active refresh token. */
  sessionAlive: unknown
}

/**
 * Accounts and refresh-token families. One query per method; no rules here (the service decides).
 * Refresh-token invariants the service relies on: at most one `active` token per family, and a
 * revoked family has every row `revoked`.
 */
export function createAuthRepo(db: Db) {
  const k = db.kysely
  return {
    async findUserById(id: string): Promise<UserRow | undefined> {
      return k.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst()
    },

    async findUserByEmail(email: string): Promise<UserRow | undefined> {
      return k.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst()
    },

    /** Usernames are stored lower-cased (the service normalises), so equality uses the unique index. */
    async findUserByUsername(username: string): Promise<UserRow | undefined> {
      return k.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst()
    },

    async findAuthRow(userId: string, familyId: string): Promise<AuthRow | undefined> {
      return k
        .selectFrom('users')
        .select((eb) => [
          'users.id',
          'users.role',
          'users.status',
          'users.tokenVersion',
          eb
            .exists(
              eb
                .selectFrom('refreshTokens')
                .select('refreshTokens.id')
                .where('refreshTokens.familyId', '=', familyId)
                .where('refreshTokens.userId', '=', userId)
                .where('refreshTokens.status', '=', 'active'),
            )
            .as('sessionAlive'),
        ])
        .where('users.id', '=', userId)
        .executeTakeFirst()
    },

    async countAdmins(): Promise<number> {
      const row = await k
        .selectFrom('users')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('role', '=', 'admin')
        .executeTakeFirstOrThrow()
      return Number(row.n)
    },

    /** Throws the driver's unique-violation error on a duplicate email/username. */
    async insertUser(row: UserRow): Promise<void> {
      await k.insertInto('users').values(row).execute()
    },

    async updateProfile(id: string, patch: { displayName?: string | null; preferences?: string; updatedAt: string }) {
      await k.updateTable('users').set(patch).where('id', '=', id).execute()
    },

    async setPasswordHash(id: string, passwordHash: string, updatedAt: string): Promise<void> {
      await k.updateTable('users').set({ passwordHash, updatedAt }).where('id', '=', id).execute()
    },

    /** Atomic increment; returns the new count (read back in the same call). */
    async addFailedLogin(id: string): Promise<number> {
      await k
        .updateTable('users')
        .set((eb) => ({ failedLoginCount: eb('failedLoginCount', '+', 1) }))
        .where('id', '=', id)
        .execute()
      const row = await k.selectFrom('users').select('failedLoginCount').where('id', '=', id).executeTakeFirst()
      return Number(row?.failedLoginCount ?? 0)
    },

    async lockUser(id: string, lockedUntil: string): Promise<void> {
      await k.updateTable('users').set({ lockedUntil, failedLoginCount: 0 }).where('id', '=', id).execute()
    },

    async clearFailedLogins(id: string): Promise<void> {
      await k
        .updateTable('users')
        .set({ failedLoginCount: 0, lockedUntil: null })
        .where('id', '=', id)
        .where((eb) => eb.or([eb('failedLoginCount', '!=', 0), eb('lockedUntil', 'is not', null)]))
        .execute()
    },

    async insertRefreshToken(row: RefreshTokenRow): Promise<void> {
      await k.insertInto('refreshTokens').values(row).execute()
    },

    async findRefreshTokenByHash(tokenHash: string): Promise<RefreshTokenRow | undefined> {
      return k.selectFrom('refreshTokens').selectAll().where('tokenHash', '=', tokenHash).executeTakeFirst()
    },

    /**
     * Rotation in one transaction: mark the presented token `rotated` only if it is still
     * `active` (the conditional update decides which of two concurrent refreshes wins), then
     * insert its successor. Returns false, inserting nothing, when another request won.
     */
    async rotateRefreshToken(oldId: string, next: RefreshTokenRow): Promise<boolean> {
      return k.transaction().execute(async (trx) => {
        const result = await trx
          .updateTable('refreshTokens')
          .set({ status: 'rotated', lastUsedAt: next.lastUsedAt })
          .where('id', '=', oldId)
          .where('status', '=', 'active')
          .executeTakeFirst()
        if (affectedRows(result) !== 1) return false
        await trx.insertInto('refreshTokens').values(next).execute()
        return true
      })
    },

    /** Revokes every token of one family (of this user); returns how many rows changed. */
    async revokeFamily(options: { userId: string; familyId: string; reason: string; at: string }): Promise<number> {
      const result = await k
        .updateTable('refreshTokens')
        .set({ status: 'revoked', revokedAt: options.at, revokedReason: options.reason })
        .where('userId', '=', options.userId)
        .where('familyId', '=', options.familyId)
        .where('status', '!=', 'revoked')
        .executeTakeFirst()
      return affectedRows(result)
    },

    /** Revokes every family of the user, optionally sparing one (the caller's own session). */
    async revokeAllFamilies(options: { userId: string; exceptFamilyId?: string | null; reason: string; at: string }) {
      let q = k
        .updateTable('refreshTokens')
        .set({ status: 'revoked', revokedAt: options.at, revokedReason: options.reason })
        .where('userId', '=', options.userId)
        .where('status', '!=', 'revoked')
      if (options.exceptFamilyId) q = q.where('familyId', '!=', options.exceptFamilyId)
      const result = await q.executeTakeFirst()
      return affectedRows(result)
    },

    /** The user's live sessions: the active token of each family, newest use first. */
    async listActiveTokens(userId: string, now: string): Promise<RefreshTokenRow[]> {
      return k
        .selectFrom('refreshTokens')
        .selectAll()
        .where('userId', '=', userId)
        .where('status', '=', 'active')
        .where('expiresAt', '>', now)
        .orderBy('lastUsedAt', 'desc')
        .execute()
    },

    /** When each family began (its first token), for the session list. */
    async familyStarts(userId: string, familyIds: string[]): Promise<Map<string, string>> {
      if (!familyIds.length) return new Map()
      const rows = await k
        .selectFrom('refreshTokens')
        .select((eb) => ['familyId', eb.fn.min('createdAt').as('startedAt')])
        .where('userId', '=', userId)
        .where('familyId', 'in', familyIds)
        .groupBy('familyId')
        .execute()
      return new Map(rows.map((r) => [r.familyId, String(r.startedAt)]))
    },

    async getSetting(key: string): Promise<string | undefined> {
      const row = await k.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst()
      return row?.value
    },
  }
}
export type AuthRepo = ReturnType<typeof createAuthRepo>
