import type { Db } from '../../db/kysely'
import type { FilesTable } from '../../db/schema'

export type FileRow = FilesTable

/** SQL for uploaded files. Every read is scoped to the owner. */
export function createFilesRepo(db: Db) {
  const k = db.kysely
  return {
    async insert(row: FileRow): Promise<void> {
      await k.insertInto('files').values(row).execute()
    },

    findOwned(userId: string, id: string): Promise<FileRow | undefined> {
      return k.selectFrom('files').selectAll().where('id', '=', id).where('userId', '=', userId).executeTakeFirst()
    },

    listOwned(userId: string, ids: string[]): Promise<FileRow[]> {
      if (!ids.length) return Promise.resolve([])
      return k.selectFrom('files').selectAll().where('userId', '=', userId).where('id', 'in', ids).execute()
    },

    async deleteOwned(userId: string, id: string): Promise<void> {
      await k.deleteFrom('files').where('id', '=', id).where('userId', '=', userId).execute()
    },
  }
}
