import type { Kysely } from 'kysely'
import { dialectFromKysely } from '../migrate'

/**
 * Money held for requests in flight. `users.reserved` is the sum of the user's `held`
 * reservations; available = balance − reserved. A reservation is one conditional update on this
 * column (`WHERE balance - reserved >= amount`), which cannot overdraw on any of the three
 * engines because each re-checks the condition on the locked, current row.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('users')
    .addColumn('reserved', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute()
  // The ledger page query: one user's entries, newest first by (time-sortable) id.
  await db.schema.createIndex('credit_ledger_user_id_idx').on('credit_ledger').columns(['user_id', 'id']).execute()
  await db.schema
    .createIndex('credit_reservations_user_idx')
    .on('credit_reservations')
    .columns(['user_id', 'status'])
    .execute()
}

export async function down(db: Kysely<unknown>): Promise<void> {
  // Only MySQL names the table in DROP INDEX.
  const mysql = dialectFromKysely(db) === 'mysql'
  const reservations = db.schema.dropIndex('credit_reservations_user_idx')
  await (mysql ? reservations.on('credit_reservations') : reservations).execute()
  const ledger = db.schema.dropIndex('credit_ledger_user_id_idx')
  await (mysql ? ledger.on('credit_ledger') : ledger).execute()
  await db.schema.alterTable('users').dropColumn('reserved').execute()
}
