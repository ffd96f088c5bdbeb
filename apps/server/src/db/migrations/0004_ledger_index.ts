import type { Kysely } from 'kysely'
import { dialectFromKysely } from '../migrate'

/**
 * `credit_ledger` had two per-user indexes: `(user_id, created_at)` from 0001 and `(user_id, id)`
 * from 0003. Ids sort by time, and every ledger query (the ledger page) reads by `(user_id, id)`;
 * nothing reads by `created_at`. The first one only cost a b-tree insert on every ledger entry,
 * one per settled /v1 call in the lease batches.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const drop = db.schema.dropIndex('credit_ledger_user_idx')
  // Only MySQL names the table in DROP INDEX.
  await (dialectFromKysely(db) === 'mysql' ? drop.on('credit_ledger') : drop).execute()
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('credit_ledger_user_idx').on('credit_ledger').columns(['user_id', 'created_at']).execute()
}
