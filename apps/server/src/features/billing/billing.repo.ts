import { sql, type Insertable, type Kysely, type Transaction } from 'kysely'
import { bulkInserter } from '../../db/bulk-insert'
import { affectedRows, type Db } from '../../db/kysely'
import type { ApiCallsTable, CreditLedgerTable, CreditReservationsTable, Database } from '../../db/schema'

/**
 * The SQL of the ledger and reservations: one query per method, no rules (billing.service.ts
 * holds them). Writers take the executor they run in, so the service composes them into one
 * transaction — its own, or the caller's (the chat turn's settlement).
 */
export type Executor = Kysely<Database> | Transaction<Database>
export type LedgerRow = CreditLedgerTable
export type ReservationRow = CreditReservationsTable

/** Every column of each table the batched settlement writes, in the order its INSERT lists them. */
export const LEDGER_COLUMNS = ['id', 'userId', 'delta', 'balanceAfter', 'reason', 'ref', 'note', 'actorId', 'createdAt'] as const
export const API_CALL_COLUMNS = [
  'id',
  'requestId',
  'userId',
  'apiKeyId',
  'source',
  'provider',
  'channelId',
  'model',
  'endpoint',
  'status',
  'httpStatus',
  'errorCode',
  'promptTokens',
  'completionTokens',
  'cachedTokens',
  'reasoningTokens',
  'images',
  'usageEstimated',
  'cost',
  'latencyMs',
  'ttftMs',
  'upstreamRequestId',
  'createdAt',
] as const

export function createBillingRepo(db: Db) {
  const k = db.kysely
  const ledgerInserter = bulkInserter('creditLedger', LEDGER_COLUMNS)
  const apiCallInserter = bulkInserter('apiCalls', API_CALL_COLUMNS)
  return {
    transaction<T>(fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
      return k.transaction().execute(fn)
    },

    async findBalance(ex: Executor, userId: string): Promise<{ balance: number; reserved: number } | undefined> {
      const row = await ex
        .selectFrom('users')
        .select(['balance', 'reserved'])
        .where('id', '=', userId)
        .executeTakeFirst()
      return row && { balance: Number(row.balance), reserved: Number(row.reserved ?? 0) }
    },

    /**
     * Holds `amount` only while it fits: the engine re-checks the condition on the current,
     * locked row, so concurrent holds can never take more than the balance. 1 = held.
     */
    async holdFunds(ex: Executor, userId: string, amount: number): Promise<number> {
      const result = await ex
        .updateTable('users')
        .set((eb) => ({ reserved: eb('reserved', '+', amount) }))
        .where('id', '=', userId)
        .where((eb) => eb(eb('balance', '-', eb.ref('reserved')), '>=', amount))
        .executeTakeFirst()
      return affectedRows(result)
    },

    /**
     * Returns held money (`amount` ≥ 0). Always touches the row, so with amount 0 it still takes
     * the row lock that serialises the balance arithmetic that follows in the same transaction.
     */
    async unholdFunds(ex: Executor, userId: string, amount: number): Promise<void> {
      await ex
        .updateTable('users')
        .set((eb) => ({ reserved: eb('reserved', '-', amount) }))
        .where('id', '=', userId)
        .execute()
    },

    /**
     * Adds a signed delta to the balance. A negative delta only applies while the available
     * money (balance − reserved) covers it, so no path can drive a balance below zero. 1 = applied.
     */
    async changeBalance(ex: Executor, userId: string, delta: number): Promise<number> {
      let q = ex
        .updateTable('users')
        .set((eb) => ({ balance: eb('balance', '+', delta) }))
        .where('id', '=', userId)
      if (delta < 0) q = q.where((eb) => eb(eb('balance', '-', eb.ref('reserved')), '>=', -delta))
      return affectedRows(await q.executeTakeFirst())
    },

    async userExists(ex: Executor, userId: string): Promise<boolean> {
      const row = await ex.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst()
      return row !== undefined
    },

    async insertReservation(ex: Executor, row: ReservationRow): Promise<void> {
      await ex.insertInto('creditReservations').values(row).execute()
    },

    async findReservation(ex: Executor, requestId: string): Promise<ReservationRow | undefined> {
      return ex.selectFrom('creditReservations').selectAll().where('requestId', '=', requestId).executeTakeFirst()
    },

    /** Moves a reservation out of `held`; 0 when another path (settle, release, sweeper) got there first. */
    async closeReservation(
      ex: Executor,
      opts: { requestId: string; status: 'settled' | 'released'; at: string },
    ): Promise<number> {
      const result = await ex
        .updateTable('creditReservations')
        .set({ status: opts.status, settledAt: opts.at })
        .where('requestId', '=', opts.requestId)
        .where('status', '=', 'held')
        .executeTakeFirst()
      return affectedRows(result)
    },

    async listExpiredHolds(before: string, limit: number): Promise<ReservationRow[]> {
      return k
        .selectFrom('creditReservations')
        .selectAll()
        .where('status', '=', 'held')
        .where('expiresAt', '<', before)
        .orderBy('expiresAt')
        .limit(limit)
        .execute()
    },

    async insertLedger(ex: Executor, row: LedgerRow): Promise<void> {
      await ex.insertInto('creditLedger').values(row).execute()
    },

    /** Many ledger rows in few statements (a lease's batched settlement). */
    async insertLedgerRows(ex: Executor, rows: LedgerRow[]): Promise<void> {
      await ledgerInserter(ex, rows)
    },

    /** Usage rows settled together with their charges (the lease's batched settlement). */
    async insertApiCalls(ex: Executor, rows: Insertable<ApiCallsTable>[]): Promise<void> {
      await apiCallInserter(ex, rows)
    },

    async findApiCall(ex: Executor, requestId: string): Promise<{ id: string } | undefined> {
      return ex.selectFrom('apiCalls').select('id').where('requestId', '=', requestId).executeTakeFirst()
    },

    /**
     * Changes a still-held reservation's amount by `delta` and pushes its expiry to `expiresAt`.
     * 0 when it is no longer held (released by the sweeper) or holds less than `-delta`: the caller
     * must not touch `reserved` then.
     * Also the first write of a lease's transactions, so the reservation row is locked before the
     * user row, the order every money transaction takes.
     */
    async adjustHeld(ex: Executor, opts: { requestId: string; delta: number; expiresAt: string }): Promise<number> {
      let q = ex
        .updateTable('creditReservations')
        .set((eb) => ({ amount: eb('amount', '+', opts.delta), expiresAt: opts.expiresAt }))
        .where('requestId', '=', opts.requestId)
        .where('status', '=', 'held')
      // Never below zero: what a hold gives back can only be what it holds.
      if (opts.delta < 0) q = q.where('amount', '>=', -opts.delta)
      return affectedRows(await q.executeTakeFirst())
    },

    /**
     * Charges `amount` out of money already held for this user: the balance and the hold drop
     * together, so `available` does not change and the balance cannot go below what stays held.
     */
    async chargeHeld(ex: Executor, userId: string, amount: number): Promise<void> {
      await ex
        .updateTable('users')
        .set((eb) => ({ balance: eb('balance', '-', amount), reserved: eb('reserved', '-', amount) }))
        .where('id', '=', userId)
        .execute()
    },

    async findLedgerByRef(ex: Executor, ref: string): Promise<LedgerRow | undefined> {
      return ex.selectFrom('creditLedger').selectAll().where('ref', '=', ref).executeTakeFirst()
    },

    /** One user's entries, newest first; `before` is the last id of the previous page. */
    async listLedger(filter: { userId: string; before?: string; limit: number }): Promise<LedgerRow[]> {
      let q = k.selectFrom('creditLedger').selectAll().where('userId', '=', filter.userId)
      if (filter.before) q = q.where('id', '<', filter.before)
      return q.orderBy('id', 'desc').limit(filter.limit).execute()
    },

    /**
     * Savepoints let one step of a caller's transaction fail (a duplicate ledger reference) and
     * be undone without aborting the rest — PostgreSQL otherwise poisons the whole transaction.
     * Same syntax on SQLite, MySQL and PostgreSQL.
     */
    async savepoint(trx: Transaction<Database>, name: string): Promise<void> {
      await sql`savepoint ${sql.id(name)}`.execute(trx)
    },
    async rollbackToSavepoint(trx: Transaction<Database>, name: string): Promise<void> {
      await sql`rollback to savepoint ${sql.id(name)}`.execute(trx)
    },
    async releaseSavepoint(trx: Transaction<Database>, name: string): Promise<void> {
      await sql`release savepoint ${sql.id(name)}`.execute(trx)
    },
  }
}
export type BillingRepo = ReturnType<typeof createBillingRepo>
