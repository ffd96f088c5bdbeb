import { sql } from 'kysely'
import { affectedRows, type Db } from '../../db/kysely'
import type { UsersTable } from '../../db/schema'

/** A LIKE pattern that matches `text` literally anywhere ('!' is the portable escape character). */
function containsPattern(text: string): string {
  return `%${text.toLowerCase().replace(/[!%_]/g, (c) => `!${c}`)}%`
}

/** Admin queries over accounts. One query per method. */
export function createUsersRepo(db: Db) {
  const k = db.kysely
  return {
    async list(filter: {
      q?: string
      role?: UsersTable['role']
      status?: UsersTable['status']
      before?: string
      limit: number
    }): Promise<UsersTable[]> {
      let q = k.selectFrom('users').selectAll()
      if (filter.role) q = q.where('role', '=', filter.role)
      if (filter.status) q = q.where('status', '=', filter.status)
      if (filter.before) q = q.where('id', '<', filter.before)
      const text = filter.q
      if (text) {
        const pattern = containsPattern(text)
        q = q.where((eb) =>
          eb.or([
            eb(sql<string>`lower(${sql.ref('email')})`, 'like', sql<string>`${pattern} escape '!'`),
            eb(sql<string>`lower(${sql.ref('username')})`, 'like', sql<string>`${pattern} escape '!'`),
            eb(sql<string>`lower(${sql.ref('displayName')})`, 'like', sql<string>`${pattern} escape '!'`),
            eb('id', '=', text),
          ]),
        )
      }
      return q.orderBy('id', 'desc').limit(filter.limit).execute()
    },

    /** Calls and cost per user, for one page of users. */
    async usageTotals(userIds: string[]): Promise<Map<string, { calls: number; cost: number }>> {
      if (!userIds.length) return new Map()
      const rows = await k
        .selectFrom('apiCalls')
        .select((eb) => ['userId', eb.fn.countAll<number>().as('calls'), eb.fn.sum<number>('cost').as('cost')])
        .where('userId', 'in', userIds)
        .groupBy('userId')
        .execute()
      return new Map(rows.map((r) => [r.userId, { calls: Number(r.calls), cost: Number(r.cost ?? 0) }]))
    },

    async findById(id: string): Promise<UsersTable | undefined> {
      return k.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst()
    },

    async setRole(id: string, role: UsersTable['role'], updatedAt: string): Promise<void> {
      await k.updateTable('users').set({ role, updatedAt }).where('id', '=', id).execute()
    },

    /**
     * Disabling bumps token_version in the same statement, so every access token already issued
     * fails its next request even before the refresh families are revoked.
     */
    async setStatus(id: string, status: UsersTable['status'], updatedAt: string): Promise<number> {
      const result = await k
        .updateTable('users')
        .set((eb) => ({
          status,
          updatedAt,
          ...(status === 'disabled' ? { tokenVersion: eb('tokenVersion', '+', 1) } : {}),
        }))
        .where('id', '=', id)
        .where('status', '!=', status)
        .executeTakeFirst()
      return affectedRows(result)
    },

    /** API keys die with the account (API.md: disabling revokes sessions and keys). */
    async revokeApiKeys(userId: string, at: string): Promise<number> {
      const result = await k
        .updateTable('apiKeys')
        .set({ status: 'revoked', revokedAt: at })
        .where('userId', '=', userId)
        .where('status', '=', 'active')
        .executeTakeFirst()
      return affectedRows(result)
    },
  }
}
