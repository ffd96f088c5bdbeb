import type { Insertable, Updateable } from 'kysely'
import type { Db } from '../../db/kysely'
import type { ProviderChannelsTable, ProviderKeysTable } from '../../db/schema'

export type ChannelRow = ProviderChannelsTable
/** Key rows as the admin side reads them: everything but the ciphertext. */
export type KeyRow = Omit<ProviderKeysTable, 'ciphertext' | 'masterKeyId'>

const KEY_COLUMNS = [
  'id',
  'channelId',
  'hint',
  'status',
  'disabledReason',
  'lastError',
  'lastUsedAt',
  'nextProbeAt',
  'createdAt',
  'updatedAt',
] as const

/** SQL for channels and their keys. The ciphertext is written here but never read back out. */
export function createProvidersRepo(db: Db) {
  const k = db.kysely
  return {
    listChannels(): Promise<ChannelRow[]> {
      return k.selectFrom('providerChannels').selectAll().orderBy('priority', 'desc').orderBy('createdAt').execute()
    },
    findChannel(id: string): Promise<ChannelRow | undefined> {
      return k.selectFrom('providerChannels').selectAll().where('id', '=', id).executeTakeFirst()
    },
    async insertChannel(row: Insertable<ProviderChannelsTable>): Promise<void> {
      await k.insertInto('providerChannels').values(row).execute()
    },
    async updateChannel(id: string, patch: Updateable<ProviderChannelsTable>): Promise<void> {
      await k.updateTable('providerChannels').set(patch).where('id', '=', id).execute()
    },
    /** Deletes the channel and its keys together. */
    async deleteChannel(id: string): Promise<void> {
      await k.transaction().execute(async (tx) => {
        await tx.deleteFrom('providerKeys').where('channelId', '=', id).execute()
        await tx.deleteFrom('providerChannels').where('id', '=', id).execute()
      })
    },
    listKeys(channelIds: string[]): Promise<KeyRow[]> {
      if (channelIds.length === 0) return Promise.resolve([])
      return k.selectFrom('providerKeys').select(KEY_COLUMNS).where('channelId', 'in', channelIds).orderBy('createdAt').orderBy('id').execute()
    },
    findKey(channelId: string, keyId: string): Promise<KeyRow | undefined> {
      return k
        .selectFrom('providerKeys')
        .select(KEY_COLUMNS)
        .where('id', '=', keyId)
        .where('channelId', '=', channelId)
        .executeTakeFirst()
    },
    async insertKey(row: Insertable<ProviderKeysTable>): Promise<void> {
      await k.insertInto('providerKeys').values(row).execute()
    },
    async updateKey(id: string, patch: Updateable<ProviderKeysTable>): Promise<void> {
      await k.updateTable('providerKeys').set(patch).where('id', '=', id).execute()
    },
    async deleteKey(id: string): Promise<void> {
      await k.deleteFrom('providerKeys').where('id', '=', id).execute()
    },
  }
}
