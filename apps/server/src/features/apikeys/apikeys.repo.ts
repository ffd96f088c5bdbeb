import type { Db } from '../../db/kysely'
import { affectedRows } from '../../db/kysely'
import type { ApiKeysTable } from '../../db/schema'

export type ApiKeyRow = ApiKeysTable

/** What authenticating a key needs: the key row and its owner's status, in one read. */
export type KeyAuthRow = Pick<ApiKeyRow, 'id' | 'userId' | 'keyHash' | 'status' | 'expiresAt' | 'allowedModels' | 'monthlyLimit'> & {
  userStatus: 'active' | 'disabled'
}

/** SQL for personal API keys. */
export function createApiKeysRepo(db: Db) {
  const k = db.kysely
  return {
    async insert(row: ApiKeyRow): Promise<void> {
      await k.insertInto('apiKeys').values(row).execute()
    },

    async listByUser(userId: string): Promise<ApiKeyRow[]> {
      return k.selectFrom('apiKeys').selectAll().where('userId', '=', userId).orderBy('id', 'desc').limit(500).execute()
    },

    async countActive(userId: string): Promise<number> {
      const row = await k
        .selectFrom('apiKeys')
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('userId', '=', userId)
        .where('status', '=', 'active')
        .executeTakeFirst()
      return Number(row?.n ?? 0)
    },

    async findOwned(userId: string, id: string): Promise<ApiKeyRow | undefined> {
      return k.selectFrom('apiKeys').selectAll().where('id', '=', id).where('userId', '=', userId).executeTakeFirst()
    },

    async findAuthByPrefix(prefix: string): Promise<KeyAuthRow | undefined> {
      return k
        .selectFrom('apiKeys')
        .innerJoin('users', 'users.id', 'apiKeys.userId')
        .select([
          'apiKeys.id',
          'apiKeys.userId',
          'apiKeys.keyHash',
          'apiKeys.status',
          'apiKeys.expiresAt',
          'apiKeys.allowedModels',
          'apiKeys.monthlyLimit',
          'users.status as userStatus',
        ])
        .where('apiKeys.prefix', '=', prefix)
        .executeTakeFirst()
    },

    /** Only an active key of this user: a second revoke, or another user's key, changes nothing. */
    async revoke(userId: string, id: string, at: string): Promise<boolean> {
      const result = await k
        .updateTable('apiKeys')
        .set({ status: 'revoked', revokedAt: at })
        .where('id', '=', id)
        .where('userId', '=', userId)
        .where('status', '=', 'active')
        .executeTakeFirst()
      return affectedRows(result) > 0
    },

    async touch(id: string, at: string): Promise<void> {
      await k.updateTable('apiKeys').set({ lastUsedAt: at }).where('id', '=', id).execute()
    },

    /** Cost of the user's calls since `since`, per key (the user index narrows the scan). */
    async spendByKey(userId: string, since: string, keyIds?: string[]): Promise<Map<string, number>> {
      let q = k
        .selectFrom('apiCalls')
        .select(['apiKeyId', (eb) => eb.fn.sum<number | string>('cost').as('cost')])
        .where('userId', '=', userId)
        .where('createdAt', '>=', since)
        .where('apiKeyId', 'is not', null)
      if (keyIds) q = q.where('apiKeyId', 'in', keyIds)
      const rows = await q.groupBy('apiKeyId').execute()
      return new Map(rows.map((r) => [r.apiKeyId!, Number(r.cost ?? 0)]))
    },
  }
}

export type ApiKeysRepo = ReturnType<typeof createApiKeysRepo>
