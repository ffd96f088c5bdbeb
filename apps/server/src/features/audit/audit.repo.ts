import type { Db } from '../../db/kysely'
import type { AuditLogsTable } from '../../db/schema'

export type AuditRow = AuditLogsTable

/** Audit-log rows: append-only; listed newest first by id (ids sort by creation time). */
export function createAuditRepo(db: Db) {
  const k = db.kysely
  return {
    async insert(row: AuditRow): Promise<void> {
      await k.insertInto('auditLogs').values(row).execute()
    },

    async list(filter: { action?: string; actorId?: string; before?: string; limit: number }): Promise<AuditRow[]> {
      let q = k.selectFrom('auditLogs').selectAll()
      if (filter.action) q = q.where('action', '=', filter.action)
      if (filter.actorId) q = q.where('actorId', '=', filter.actorId)
      if (filter.before) q = q.where('id', '<', filter.before)
      return q.orderBy('id', 'desc').limit(filter.limit).execute()
    },
  }
}
