import type { AdminBalanceBody, Balance, LedgerEntry, LedgerReason, PageQuery } from '@qiao/shared'
import type { Transaction } from 'kysely'
import type { AppDeps } from '../../context'
import { isUniqueViolation } from '../../db/kysely'
import type { Database } from '../../db/schema'
import { AppError, notFound } from '../../errors'
import { newId } from '../../ids'
import type { AuditService } from '../audit/audit.service'
import type { ClientContext } from '../auth/auth.service'
import { createBillingRepo, type LedgerRow, type ReservationRow } from './billing.repo'
import { isTransientDbError, withRetry } from './retry'

/**
 * The money flow. Amounts are integer micro-yuan (1e-6 CNY) everywhere.
 *
 * 1. `users.balance` changes ONLY together with a `credit_ledger` row in the same transaction,
 *    and every ledger row has a unique `ref` (`usage:<requestId>`, `signup:<userId>`,
 *    `admin:<id>`, later `order:<id>`), so replaying any credit or charge inserts nothing and
 *    changes nothing (SECURITY.md invariant 4, H2).
 * 2. Before an upstream call the caller `reserve`s an estimate: one conditional update
 *    `reserved += amount WHERE balance - reserved >= amount` plus a `credit_reservations` row
 *    (`held`), in one transaction. The database re-checks the condition on the locked, current
 *    row, so 100 concurrent reservations against a balance that covers 10 admit at most 10 on
 *    SQLite, MariaDB and PostgreSQL alike (H1). Not enough → 402 INSUFFICIENT_BALANCE, before any
 *    upstream call.
 * 3. When the call ends, `settle(trx, …)` runs INSIDE the caller's transaction — the one that
 *    finalises the assistant message and inserts the `api_calls` row (invariant 2): the hold is
 *    closed (`held` → `settled`, conditional, so a second settlement closes nothing), `reserved`
 *    drops by the hold, and the real cost is charged as a `usage` ledger entry. The charge is
 *    capped at the money available, so a balance never goes negative; callers cap output tokens
 *    so the cost stays within the reservation and the cap only matters when estimates are wrong.
 * 4. A failure before any token `release`s the hold in full (H3); a failure after tokens settles
 *    what was produced.
 * 5. A crash between reserve and settle leaves a `held` row; `sweepReservations` (every minute,
 *    and at boot) releases holds past their `expiresAt` (L3). It only frees money: the chat
 *    feature's own restart sweep finalises messages and usage rows.
 * 6. Lock order is always reservation row → user row → ledger insert, and whole transactions
 *    are retried on deadlock / busy / serialization failures (L2, `withRetry`).
 *
 * Balance shown to users: available = balance − reserved (`getBalance`).
 */

/** How long a hold lives before the sweeper assumes its request died (longer than any turn). */
export const DEFAULT_RESERVATION_TTL_MS = 30 * 60 * 1000

const SWEEP_BATCH = 200

export interface Reservation {
  id: string
  userId: string
  requestId: string
  amount: number
  status: ReservationRow['status']
  expiresAt: string
}

export interface SettleResult {
  /** Micro-yuan taken from the balance (less than `cost` only when the balance ran out). */
  charged: number
  /** Micro-yuan of the hold returned to `available` (0 when there was none or it was closed). */
  released: number
  /** True when this request was already charged: nothing happened. */
  replayed: boolean
}

function toReservation(row: ReservationRow): Reservation {
  return {
    id: row.id,
    userId: row.userId,
    requestId: row.requestId,
    amount: Number(row.amount),
    status: row.status,
    expiresAt: row.expiresAt,
  }
}

function toEntry(row: LedgerRow): LedgerEntry {
  return {
    id: row.id,
    delta: Number(row.delta),
    balanceAfter: Number(row.balanceAfter),
    reason: row.reason,
    ref: row.ref,
    note: row.note,
    createdAt: row.createdAt,
  }
}

function assertMoney(name: string, value: number, { allowZero }: { allowZero: boolean }): void {
  // A programming error, not user input: routes validate amounts before they get here.
  if (!Number.isSafeInteger(value) || value < 0 || (!allowZero && value === 0)) {
    throw new Error(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer of micro-yuan, got ${value}`)
  }
}

const insufficient = () =>
  new AppError('INSUFFICIENT_BALANCE', 'Your balance is too low for this request; please top up and try again')

export function createBillingService(deps: AppDeps, { audit }: { audit: AuditService }) {
  const repo = createBillingRepo(deps.db)
  const k = deps.db.kysely
  const now = () => (deps.now ? deps.now() : new Date())
  const retry = <T>(fn: () => Promise<T>) =>
    withRetry(fn, {
      onRetry: (err, attempt) =>
        deps.logger.warn({ code: (err as { code?: unknown }).code, attempt }, 'billing transaction retried'),
    })

  function reservationRow(opts: { userId: string; requestId: string; amount: number; ttlMs?: number }): ReservationRow {
    const at = now()
    return {
      id: newId(at.getTime()),
      userId: opts.userId,
      requestId: opts.requestId,
      amount: opts.amount,
      status: 'held',
      createdAt: at.toISOString(),
      expiresAt: new Date(at.getTime() + (opts.ttlMs ?? DEFAULT_RESERVATION_TTL_MS)).toISOString(),
      settledAt: null,
    }
  }

  /** Closes a hold and returns its money; 0 when it was not held (already settled or released). */
  async function releaseIn(trx: Transaction<Database>, userId: string, requestId: string): Promise<number> {
    const reservation = await repo.findReservation(trx, requestId)
    if (!reservation || reservation.userId !== userId) return 0
    const closed = await repo.closeReservation(trx, { requestId, status: 'released', at: now().toISOString() })
    if (!closed) return 0
    const amount = Number(reservation.amount)
    await repo.unholdFunds(trx, userId, amount)
    return amount
  }

  const service = {
    async getBalance(userId: string): Promise<Balance> {
      const funds = await repo.findBalance(k, userId)
      if (!funds) throw notFound('User')
      return { balance: funds.balance, reserved: funds.reserved, available: funds.balance - funds.reserved }
    },

    /** The caller's own ledger, newest first. Only `userId`'s rows can ever be returned. */
    async listLedger(userId: string, page: PageQuery): Promise<{ items: LedgerEntry[]; nextCursor: string | null }> {
      const rows = await repo.listLedger({
        userId,
        ...(page.cursor ? { before: page.cursor } : {}),
        limit: page.limit + 1,
      })
      const items = rows.slice(0, page.limit)
      return { items: items.map(toEntry), nextCursor: rows.length > page.limit ? items[items.length - 1]!.id : null }
    },

    /**
     * `reserve` inside the caller's transaction (the chat turn's, which stores the user message
     * in it: not enough money rolls the message back too). `requestId` must be new — a duplicate
     * fails the caller's transaction with a unique violation rather than returning the old hold.
     */
    async reserveIn(
      trx: Transaction<Database>,
      opts: { userId: string; requestId: string; amount: number; ttlMs?: number },
    ): Promise<Reservation> {
      assertMoney('amount', opts.amount, { allowZero: true })
      const row = reservationRow(opts)
      await repo.insertReservation(trx, row)
      if (!(await repo.holdFunds(trx, opts.userId, opts.amount))) throw insufficient()
      return toReservation(row)
    },

    /**
     * Holds `amount` for the request `requestId` or throws 402 INSUFFICIENT_BALANCE. Idempotent:
     * the same requestId again returns the existing hold (whatever its status) and holds nothing.
     */
    async reserve(opts: { userId: string; requestId: string; amount: number; ttlMs?: number }): Promise<Reservation> {
      assertMoney('amount', opts.amount, { allowZero: true })
      const row = reservationRow(opts)
      try {
        await retry(() =>
          repo.transaction(async (trx) => {
            // The row first (it claims the requestId), then the money: the lock order of settle.
            await repo.insertReservation(trx, row)
            if (!(await repo.holdFunds(trx, opts.userId, opts.amount))) throw insufficient()
          }),
        )
        return toReservation(row)
      } catch (err) {
        if (!isUniqueViolation(err)) throw err
        const existing = await repo.findReservation(k, opts.requestId)
        if (!existing || existing.userId !== opts.userId) {
          throw new AppError('CONFLICT', 'This request id is already in use')
        }
        return toReservation(existing)
      }
    },

    /**
     * Settles request `requestId` inside the caller's transaction `trx` (which also writes the
     * `api_calls` row and finalises the message): closes its hold if still held, returns the held
     * money, and charges `cost` once — a ledger entry `ref` (default `usage:<requestId>`). Works
     * without a reservation too. A replay changes nothing. Callers retry their whole transaction
     * with `withRetry` on transient errors.
     */
    async settle(
      trx: Transaction<Database>,
      opts: { userId: string; requestId: string; cost: number; ref?: string; note?: string },
    ): Promise<SettleResult> {
      assertMoney('cost', opts.cost, { allowZero: true })
      const at = now()
      const reservation = await repo.findReservation(trx, opts.requestId)
      if (reservation && reservation.userId !== opts.userId) {
        throw new Error(`reservation ${opts.requestId} belongs to another user`)
      }
      let released = 0
      if (reservation) {
        const status = opts.cost > 0 ? 'settled' : 'released'
        if (await repo.closeReservation(trx, { requestId: opts.requestId, status, at: at.toISOString() })) {
          released = Number(reservation.amount)
        }
      }
      // Always touches the user row: besides returning the hold, it locks the row, so the balance
      // read below cannot change before the charge is written.
      await repo.unholdFunds(trx, opts.userId, released)
      if (opts.cost === 0) return { charged: 0, released, replayed: false }

      const ref = opts.ref ?? `usage:${opts.requestId}`
      if (await repo.findLedgerByRef(trx, ref)) return { charged: 0, released, replayed: true }
      const funds = await repo.findBalance(trx, opts.userId)
      if (!funds) throw new Error(`user ${opts.userId} not found while settling`)
      const charge = Math.min(opts.cost, Math.max(0, funds.balance - funds.reserved))
      if (charge < opts.cost) {
        deps.logger.warn(
          { userId: opts.userId, requestId: opts.requestId, cost: opts.cost, charged: charge },
          'usage cost exceeded the available balance; charge capped so the balance stays non-negative',
        )
      }
      // The entry is written even when the cap made the charge 0: it marks the request as billed.
      const entry: LedgerRow = {
        id: newId(at.getTime()),
        userId: opts.userId,
        delta: -charge,
        balanceAfter: funds.balance - charge,
        reason: 'usage',
        ref,
        note: charge < opts.cost ? `cost ${opts.cost}, charged ${charge}: balance exhausted` : (opts.note ?? null),
        actorId: null,
        createdAt: at.toISOString(),
      }
      // A concurrent settlement of the same request may insert the same ref first (its snapshot
      // hid it from the check above); the savepoint undoes just our charge and keeps the caller's
      // transaction alive.
      const savepoint = 'qiao_settle'
      await repo.savepoint(trx, savepoint)
      try {
        if (charge > 0 && !(await repo.changeBalance(trx, opts.userId, -charge))) {
          throw new Error('charge refused although the user row is locked')
        }
        await repo.insertLedger(trx, entry)
        await repo.releaseSavepoint(trx, savepoint)
      } catch (err) {
        await repo.rollbackToSavepoint(trx, savepoint)
        if (isUniqueViolation(err)) return { charged: 0, released, replayed: true }
        throw err
      }
      return { charged: charge, released, replayed: false }
    },

    /** `settle` in a transaction of its own, for flows that have nothing else to commit with it. */
    async settleNow(opts: { userId: string; requestId: string; cost: number; ref?: string }): Promise<SettleResult> {
      return retry(() => repo.transaction((trx) => service.settle(trx, opts)))
    },

    /** Returns a hold in full (the call failed before producing anything). Idempotent; 0 if none. */
    async release(opts: { userId: string; requestId: string }): Promise<number> {
      return retry(() => repo.transaction((trx) => releaseIn(trx, opts.userId, opts.requestId)))
    },

    /**
     * Adds a signed `delta` with a ledger entry (sign-up credit, admin adjustment, top-up,
     * redeem, refund). A debit never takes the balance below what is held or below zero
     * (402 INSUFFICIENT_BALANCE). The same `ref` again returns the first entry, changing nothing.
     */
    async credit(opts: {
      userId: string
      delta: number
      reason: Exclude<LedgerReason, 'usage'>
      ref: string
      note?: string | null
      actorId?: string | null
    }): Promise<{ entry: LedgerEntry; replayed: boolean }> {
      if (!Number.isSafeInteger(opts.delta) || opts.delta === 0) {
        throw new Error(`delta must be a non-zero integer of micro-yuan, got ${opts.delta}`)
      }
      const replay = async () => {
        const existing = await repo.findLedgerByRef(k, opts.ref)
        if (existing && existing.userId !== opts.userId) throw new AppError('CONFLICT', 'This reference is in use')
        return existing && { entry: toEntry(existing), replayed: true }
      }
      const earlier = await replay()
      if (earlier) return earlier
      const at = now()
      try {
        const row = await retry(() =>
          repo.transaction(async (trx) => {
            if (!(await repo.changeBalance(trx, opts.userId, opts.delta))) {
              if (!(await repo.userExists(trx, opts.userId))) throw notFound('User')
              const funds = await repo.findBalance(trx, opts.userId)
              const available = funds ? funds.balance - funds.reserved : 0
              throw new AppError(
                'INSUFFICIENT_BALANCE',
                `The balance cannot go below zero: at most ${available} micro-yuan can be deducted now`,
              )
            }
            // Read inside the transaction after our own update: exactly the balance this entry made.
            const funds = await repo.findBalance(trx, opts.userId)
            const entry: LedgerRow = {
              id: newId(at.getTime()),
              userId: opts.userId,
              delta: opts.delta,
              balanceAfter: funds!.balance,
              reason: opts.reason,
              ref: opts.ref,
              note: opts.note ?? null,
              actorId: opts.actorId ?? null,
              createdAt: at.toISOString(),
            }
            await repo.insertLedger(trx, entry)
            return entry
          }),
        )
        return { entry: toEntry(row), replayed: false }
      } catch (err) {
        // Lost a race with the same ref: the transaction (and its balance change) rolled back.
        if (!isUniqueViolation(err)) throw err
        const existing = await replay()
        if (!existing) throw err
        return existing
      }
    },

    /** An admin adds or removes money with a reason; audited (warning). */
    async adjustByAdmin(
      actorId: string,
      userId: string,
      body: AdminBalanceBody,
      ctx: ClientContext,
    ): Promise<LedgerEntry> {
      const { entry } = await service.credit({
        userId,
        delta: body.delta,
        reason: 'admin_adjust',
        ref: `admin:${newId()}`,
        note: body.reason,
        actorId,
      })
      await audit.record({
        actorId,
        action: 'billing.balance_adjusted',
        targetType: 'user',
        targetId: userId,
        severity: 'warning',
        ip: ctx.ip,
        userAgent: ctx.userAgent,
        details: { delta: entry.delta, balanceAfter: entry.balanceAfter, reason: body.reason, entryId: entry.id },
      })
      return entry
    },

    /** Releases every hold past its expiry (orphaned by a crash). Returns how many it released. */
    async sweepReservations(at: Date = now()): Promise<number> {
      let released = 0
      // Bounded: a hold that keeps failing to release must not spin this loop forever.
      for (let batch = 0; batch < 50; batch++) {
        const rows = await repo.listExpiredHolds(at.toISOString(), SWEEP_BATCH)
        for (const row of rows) {
          if (await retry(() => repo.transaction((trx) => releaseIn(trx, row.userId, row.requestId)))) released++
        }
        if (rows.length < SWEEP_BATCH) break
      }
      if (released) deps.logger.info({ released }, 'released orphaned credit reservations')
      return released
    },
  }
  return service
}
export type BillingService = ReturnType<typeof createBillingService>
export { isTransientDbError, withRetry }
