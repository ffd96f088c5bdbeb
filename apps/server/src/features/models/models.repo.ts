import type { Updateable } from 'kysely'
import type { Db } from '../../db/kysely'
import type { ModelsTable } from '../../db/schema'

export type ModelRow = ModelsTable

/** SQL for the model catalog. */
export function createModelsRepo(db: Db) {
  const k = db.kysely
  return {
    listAll(): Promise<ModelRow[]> {
      return k.selectFrom('models').selectAll().orderBy('sortOrder').orderBy('id').execute()
    },
    find(id: string): Promise<ModelRow | undefined> {
      return k.selectFrom('models').selectAll().where('id', '=', id).executeTakeFirst()
    },
    async update(id: string, patch: Updateable<ModelsTable>): Promise<void> {
      await k.updateTable('models').set(patch).where('id', '=', id).execute()
    },
    /** Model ids listed by at least one enabled channel. */
    async servedIds(): Promise<Set<string>> {
      const rows = await k.selectFrom('providerChannels').select('models').where('enabled', '=', 1).execute()
      const ids = new Set<string>()
      for (const r of rows) {
        try {
          const v: unknown = JSON.parse(r.models)
          if (Array.isArray(v)) for (const id of v) if (typeof id === 'string') ids.add(id)
        } catch {
          // A malformed list serves nothing.
        }
      }
      return ids
    },
  }
}
