import type { Db } from '../../db/kysely'
import type { SettingsTable } from '../../db/schema'

/** Rows of the `settings` table (key → JSON text). One query per method. */
export function createSettingsRepo(db: Db) {
  const k = db.kysely
  return {
    async list(keys: readonly string[]): Promise<SettingsTable[]> {
      if (!keys.length) return []
      return k.selectFrom('settings').selectAll().where('key', 'in', [...keys]).execute()
    },

    /** 1 when the key existed and was updated. */
    async update(row: SettingsTable): Promise<number> {
      const result = await k
        .updateTable('settings')
        .set({ value: row.value, updatedAt: row.updatedAt, updatedBy: row.updatedBy })
        .where('key', '=', row.key)
        .executeTakeFirst()
      return Number(result.numUpdatedRows)
    },

    async insert(row: SettingsTable): Promise<void> {
      await k.insertInto('settings').values(row).execute()
    },
  }
}
export type SettingsRepo = ReturnType<typeof createSettingsRepo>
