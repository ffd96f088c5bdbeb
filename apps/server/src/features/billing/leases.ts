import type { Insertable } from 'kysely'
import type { AppDeps } from '../../context'
import { isUniqueViolation } from '../../db/kysely'
import type { ApiCallsTable } from '../../db/schema'
import { AppError } from '../../errors'
import { newId } from '../../ids'
import { join } from 'node:path'
import { createBillingRepo, type LedgerRow } from './billing.repo'
import type { BillingService } from './billing.service'
import { createUsageJournal, type JournalSegment } from './journal'
import { withRetry } from './retry'

/**
 * Credit leases: how /v1 calls hold and spend money without two SQL transactions per call
 * (docs/adr/0004-credit-leases.md).
 *
 * A lease is a `credit_reservations` row (`request_id` = `lease:<id>`) holding part of one user's
 * balance for this process, exactly like a per-call hold: `users.reserved` includes it, so nothing
 * else (the web chat, another instance, an admin debit) can spend that money. Calls are admitted
 * against the lease in memory — a synchronous check-and-subtract, so concurrent calls can never
 * take more than the lease holds (SECURITY H1) — and the lease grows in one transaction when it
 * runs short, taking at most what the balance has available (402 otherwise, before any upstream
 * call).
 *
 * Settlement is batched: a finished call's `api_calls` row and charge join a queue that is written
 * every `flushIntervalMs` (or at `flushMaxRows`) in ONE transaction — usage rows, one `usage`
 * ledger entry per call (unique `ref`), and the balance and the lease's hold dropping together —
 * so a call's usage row and its charge still commit together, exactly once (invariant 2, H2).
 * If a batch fails, its calls are written one by one; any that still fail are kept and retried
 * with backoff, never dropped (L2). New calls are refused with 503 when the database stops
 * answering (below) or too many calls wait to be written (L1).
 *
 * Durability: each settled call is first appended to a local journal (journal.ts), written in the
 * event-loop turn that answers it; the segment is deleted once its calls are committed, and a
 * boot replays what a killed process left (`recover`), idempotently (invariant 3).
 *
 * Freshness: a lease is used without touching SQL only while SQL answered within `freshMs`;
 * otherwise the next call first renews the lease (one small transaction), so a database that went
 * down is noticed before an upstream call. A lease nobody used for `idleReleaseMs` is returned in
 * full; a lease row is renewed while in use and expires `ttlMs` after a crash, when the billing
 * sweeper returns it.
 */

export interface LeaseOptions {
  /** Longest a settled call waits in memory before its batch is written. */
  flushIntervalMs: number
  /** A batch this big is written at once. */
  flushMaxRows: number
  /** Settled calls kept while the database refuses them; beyond this, new calls get 503. */
  maxPending: number
  /** A lease is used without a database round trip only if the database answered this recently. */
  freshMs: number
  /** An unused lease is returned to the balance after this long. */
  idleReleaseMs: number
  /** How often leases are checked for release and renewal. */
  maintainMs: number
  /** Lifetime of a lease row without renewal (what a crash can keep held). */
  ttlMs: number
  /** A lease grows to cover at least this many holds like the one that made it grow... */
  minCalls: number
  /** ...and doubles while busy, up to this many micro-yuan (a single larger hold still fits). */
  maxAmount: number
  /** Where the journal of settled calls lives; default `<QIAO_DATA_DIR>/usage-journal`. */
  journalDir: string | undefined
}

export const DEFAULT_LEASE_OPTIONS: LeaseOptions = {
  flushIntervalMs: 50,
  flushMaxRows: 256,
  maxPending: 20_000,
  freshMs: 1_000,
  idleReleaseMs: 5_000,
  maintainMs: 1_000,
  ttlMs: 5 * 60_000,
  minCalls: 16,
  maxAmount: 5_000_000,
  journalDir: undefined,
}

interface Lease {
  readonly userId: string
  readonly ref: string
  /** Micro-yuan this lease holds in SQL, as last committed (the row's `amount`). */
  amount: number
  /** Holds of calls admitted and not yet settled. */
  outstanding: number
  /** Costs of settled calls not yet written (still part of `amount` in SQL). */
  pending: number
  /** Calls admitted and not yet settled. */
  calls: number
  /** The row exists (the first growth inserts it). */
  persisted: boolean
  /** Released, or found released by the sweeper: admits nothing more. */
  closed: boolean
  lastUsed: number
  renewedAt: number
  /** A growth, renewal or release in progress; admissions wait for it. */
  busy: Promise<void> | undefined
}

/** One admitted call's hold; give it back with `settle` (or `cancel` if the call never ran). */
export interface LeaseTicket {
  readonly userId: string
  readonly amount: number
}

interface Ticket extends LeaseTicket {
  readonly lease: Lease
  done: boolean
}

interface Settled {
  lease: Lease
  row: Insertable<ApiCallsTable>
  cost: number
  /** Its line in the journal, if written. */
  segment: JournalSegment | undefined
}

class LeaseGone extends Error {}

const free = (lease: Lease) => lease.amount - lease.outstanding - lease.pending

const insufficient = () =>
  new AppError('INSUFFICIENT_BALANCE', 'Your balance is too low for this request; please top up and try again')
const unavailable = () =>
  new AppError('SERVICE_UNAVAILABLE', 'Billing is temporarily unavailable; please try again shortly', { retryAfter: 2 })

export function createCreditLeases(deps: AppDeps, ports: { billing: Pick<BillingService, 'settle'> }, overrides: Partial<LeaseOptions> = {}) {
  const options: LeaseOptions = { ...DEFAULT_LEASE_OPTIONS, ...overrides }
  const repo = createBillingRepo(deps.db)
  const { logger } = deps
  const now = () => (deps.now ? deps.now() : new Date())
  const retry = <T>(fn: () => Promise<T>) =>
    withRetry(fn, { onRetry: (err, attempt) => logger.warn({ code: (err as { code?: unknown }).code, attempt }, 'lease transaction retried') })

  const journal = createUsageJournal(options.journalDir ?? join(deps.config.QIAO_DATA_DIR, 'usage-journal'), logger)
  const leases = new Map<string, Lease>()
  let queue: Settled[] = []
  let writing: Promise<void> | undefined
  let flushTimer: NodeJS.Timeout | undefined
  let lastSqlOk = 0
  /** Settled calls whose rows could not be written, retried one by one with backoff. */
  let stuck: Settled[] = []
  let stuckTimer: NodeJS.Timeout | undefined
  let stuckDelayMs = 0
  let stopped = false
  const maintainTimer = setInterval(() => void maintain(), options.maintainMs)
  maintainTimer.unref()

  const expiry = () => new Date(now().getTime() + options.ttlMs).toISOString()
  const sqlAnswered = () => {
    lastSqlOk = Date.now()
  }

  function newLease(userId: string): Lease {
    return { userId, ref: `lease:${newId()}`, amount: 0, outstanding: 0, pending: 0, calls: 0, persisted: false, closed: false, lastUsed: Date.now(), renewedAt: 0, busy: undefined }
  }

  function take(lease: Lease, amount: number): Ticket {
    lease.outstanding += amount
    lease.calls++
    lease.lastUsed = Date.now()
    return { userId: lease.userId, amount, lease, done: false }
  }

  /**
   * Grows `lease` by at least `needed` (0: only renews it and proves the database answers), in one
   * transaction. Throws 402 when the balance cannot cover `needed`, 503 when the database fails.
   */
  async function grow(lease: Lease, needed: number, hold: number): Promise<void> {
    const want = needed > 0 ? Math.max(needed, Math.min(options.maxAmount - lease.amount, Math.max(hold * options.minCalls, lease.amount))) : 0
    let took = 0
    try {
      await retry(() =>
        repo.transaction(async (trx) => {
          took = 0
          const at = now()
          const expiresAt = new Date(at.getTime() + options.ttlMs).toISOString()
          // The reservation row first, then the user row: the lock order of every money transaction.
          if (lease.persisted) {
            if (!(await repo.adjustHeld(trx, { requestId: lease.ref, delta: 0, expiresAt }))) throw new LeaseGone()
          } else {
            await repo.insertReservation(trx, { id: newId(at.getTime()), userId: lease.userId, requestId: lease.ref, amount: 0, status: 'held', createdAt: at.toISOString(), expiresAt, settledAt: null })
          }
          if (want === 0) return
          const funds = await repo.findBalance(trx, lease.userId)
          const available = funds ? funds.balance - funds.reserved : 0
          const take = Math.min(want, available)
          if (take < needed) throw insufficient()
          // The engine re-checks the condition on the locked row; a concurrent hold may have won.
          if (await repo.holdFunds(trx, lease.userId, take)) took = take
          else if (take > needed && (await repo.holdFunds(trx, lease.userId, needed))) took = needed
          else throw insufficient()
          await repo.adjustHeld(trx, { requestId: lease.ref, delta: took, expiresAt })
        }),
      )
    } catch (err) {
      if (err instanceof LeaseGone) {
        // The sweeper returned this lease (the process stalled past its expiry). Its queued calls
        // are still charged, from the available balance; the next admission opens a new lease.
        lease.closed = true
        if (leases.get(lease.userId) === lease) leases.delete(lease.userId)
        sqlAnswered()
        return
      }
      if (err instanceof AppError) {
        sqlAnswered()
        throw err
      }
      logger.error({ err, userId: lease.userId }, 'credit lease could not be renewed or grown')
      throw unavailable()
    }
    lease.persisted = true
    lease.amount += took
    lease.renewedAt = Date.now()
    sqlAnswered()
  }

  async function admitSlow(userId: string, amount: number): Promise<Ticket> {
    // Waiting for another call's growth is progress; only this call's own attempts are bounded.
    for (let attempts = 0; attempts < 5; ) {
      if (stopped || queue.length + stuck.length >= options.maxPending) throw unavailable()
      let lease = leases.get(userId)
      if (!lease || lease.closed) {
        lease = newLease(userId)
        leases.set(userId, lease)
      }
      if (lease.busy) {
        await lease.busy.catch(() => undefined)
        continue
      }
      const short = amount - free(lease)
      if (short <= 0 && Date.now() - lastSqlOk < options.freshMs) return take(lease, amount)
      const l = lease
      attempts++
      l.busy = grow(l, Math.max(0, short), amount).finally(() => {
        l.busy = undefined
      })
      await l.busy
    }
    throw unavailable()
  }

  function scheduleFlush(delayMs: number): void {
    if (flushTimer || stopped) return
    flushTimer = setTimeout(() => {
      flushTimer = undefined
      void flush()
    }, delayMs)
    flushTimer.unref()
  }

  /**
   * One batch in one transaction: per lease, the reservation row drops by what its calls cost and
   * the balance and `reserved` drop with it; anything beyond the lease (an estimate that was too
   * low, or a lease the sweeper took back) is charged from the available balance, capped so the
   * balance never goes negative. Then the ledger entries and the usage rows.
   */
  async function writeBatch(batch: Settled[]): Promise<Map<Lease, { total: number; fromLease: number; gone: boolean }>> {
    const byLease = new Map<Lease, Settled[]>()
    for (const s of batch) {
      const list = byLease.get(s.lease)
      if (list) list.push(s)
      else byLease.set(s.lease, [s])
    }
    let outcome = new Map<Lease, { total: number; fromLease: number; gone: boolean }>()
    await retry(() =>
      repo.transaction(async (trx) => {
        outcome = new Map()
        const at = now()
        const expiresAt = new Date(at.getTime() + options.ttlMs).toISOString()
        const ledger: LedgerRow[] = []
        for (const [lease, calls] of byLease) {
          const total = calls.reduce((sum, c) => sum + c.cost, 0)
          let fromLease = 0
          let gone = lease.closed
          if (lease.persisted && !lease.closed) {
            const want = Math.min(total, lease.amount)
            if (await repo.adjustHeld(trx, { requestId: lease.ref, delta: -want, expiresAt })) {
              if (want > 0) await repo.chargeHeld(trx, lease.userId, want)
              fromLease = want
            } else {
              gone = true
            }
          }
          let charged = fromLease
          if (total > charged) {
            const funds = await repo.findBalance(trx, lease.userId)
            const extra = Math.min(total - charged, Math.max(0, funds ? funds.balance - funds.reserved : 0))
            if (extra > 0 && (await repo.changeBalance(trx, lease.userId, -extra))) charged += extra
          }
          outcome.set(lease, { total, fromLease, gone })
          if (total === 0) continue
          const funds = await repo.findBalance(trx, lease.userId)
          if (!funds) throw new Error(`user ${lease.userId} not found while settling`)
          // Entries in call order, each with the balance right after it.
          let balance = funds.balance + charged
          let left = charged
          for (const c of calls) {
            if (c.cost === 0) continue
            const charge = Math.min(c.cost, left)
            left -= charge
            balance -= charge
            if (charge < c.cost) logger.warn({ userId: lease.userId, requestId: c.row.requestId, cost: c.cost, charged: charge }, 'usage cost exceeded the available balance; charge capped so the balance stays non-negative')
            ledger.push({
              id: newId(at.getTime()),
              userId: lease.userId,
              delta: -charge,
              balanceAfter: balance,
              reason: 'usage',
              ref: `usage:${c.row.requestId}`,
              note: charge < c.cost ? `cost ${c.cost}, charged ${charge}: balance exhausted` : null,
              actorId: null,
              createdAt: at.toISOString(),
            })
          }
        }
        await repo.insertLedgerRows(trx, ledger)
        await repo.insertApiCalls(
          trx,
          batch.map((s) => s.row),
        )
      }),
    )
    return outcome
  }

  function applied(lease: Lease, r: { total: number; fromLease: number; gone: boolean }): void {
    lease.pending -= r.total
    lease.amount -= r.fromLease
    if (r.gone) {
      lease.closed = true
      if (leases.get(lease.userId) === lease) leases.delete(lease.userId)
    } else if (lease.persisted) {
      lease.renewedAt = Date.now()
    }
  }

  /**
   * The slow path when a batch fails: each call in its own transaction through `billing.settle`,
   * which also skips a charge already made (a replayed request). Calls that still fail are kept in
   * `stuck` and retried with backoff — never dropped. When nothing at all goes through, the
   * database is likely down: the rest is kept without trying each.
   */
  async function writeOneByOne(batch: Settled[]): Promise<void> {
    let written = 0
    let failures = 0
    const failed: Settled[] = []
    let lastErr: unknown
    for (const [i, s] of batch.entries()) {
      if (written === 0 && failures >= 3) {
        failed.push(...batch.slice(i))
        break
      }
      const { lease } = s
      let fromLease = 0
      let gone = lease.closed
      try {
        await retry(() =>
          repo.transaction(async (trx) => {
            fromLease = 0
            gone = lease.closed
            if (!(await repo.findApiCall(trx, s.row.requestId))) await repo.insertApiCalls(trx, [s.row])
            const want = Math.min(s.cost, lease.amount)
            if (want > 0 && lease.persisted && !lease.closed) {
              // Out of the lease and back to the available balance, which settle then charges.
              if (await repo.adjustHeld(trx, { requestId: lease.ref, delta: -want, expiresAt: expiry() })) {
                await repo.unholdFunds(trx, lease.userId, want)
                fromLease = want
              } else {
                gone = true
              }
            }
            await ports.billing.settle(trx, { userId: lease.userId, requestId: s.row.requestId, cost: s.cost })
          }),
        )
      } catch (err) {
        failures++
        lastErr = err
        failed.push(s)
        continue
      }
      written++
      sqlAnswered()
      applied(lease, { total: s.cost, fromLease, gone })
      journal.committed(s.segment)
    }
    if (failed.length === 0) return
    stuck = stuck.concat(failed)
    stuckDelayMs = Math.min(30_000, Math.max(500, stuckDelayMs * 2))
    logger.error({ err: lastErr, calls: failed.length, retryInMs: stuckDelayMs }, 'usage rows could not be written; kept and retried')
    if (!stuckTimer && !stopped) {
      stuckTimer = setTimeout(() => {
        stuckTimer = undefined
        void retryStuck()
      }, stuckDelayMs)
      stuckTimer.unref()
    }
  }

  async function retryStuck(): Promise<void> {
    while (writing) await writing
    if (stuck.length === 0) return
    const batch = stuck
    stuck = []
    writing = writeOneByOne(batch).finally(() => {
      writing = undefined
    })
    await writing
    if (stuck.length === 0) stuckDelayMs = 0
  }

  /** Writes everything settled so far (stuck calls are retried on their own timer). */
  async function flush(): Promise<void> {
    if (flushTimer) {
      clearTimeout(flushTimer)
      flushTimer = undefined
    }
    while (writing) await writing
    if (queue.length === 0) return
    const batch = queue
    queue = []
    // The batch's calls are all in closed segments: each file goes once its calls are committed.
    journal.rotate()
    writing = (async () => {
      let outcome: Awaited<ReturnType<typeof writeBatch>>
      try {
        outcome = await writeBatch(batch)
      } catch (err) {
        if (!isUniqueViolation(err)) logger.warn({ err, calls: batch.length }, 'usage batch failed; writing its calls one by one')
        return writeOneByOne(batch)
      }
      for (const [lease, r] of outcome) applied(lease, r)
      for (const c of batch) journal.committed(c.segment)
      sqlAnswered()
    })().finally(() => {
      writing = undefined
    })
    await writing
    if (queue.length) scheduleFlush(queue.length >= options.flushMaxRows ? 0 : options.flushIntervalMs)
  }

  /** Returns a lease's unused money, if no call is using it. */
  function release(lease: Lease): Promise<void> {
    if (lease.busy) return lease.busy.catch(() => undefined)
    if (lease.calls > 0 || lease.pending > 0) return Promise.resolve()
    const done = (async () => {
      if (lease.persisted && !lease.closed) {
        await retry(() =>
          repo.transaction(async (trx) => {
            const row = await repo.findReservation(trx, lease.ref)
            if (!row || row.status !== 'held') return
            if (await repo.closeReservation(trx, { requestId: lease.ref, status: 'released', at: now().toISOString() })) {
              await repo.unholdFunds(trx, lease.userId, Number(row.amount))
            }
          }),
        )
      }
      lease.closed = true
      if (leases.get(lease.userId) === lease) leases.delete(lease.userId)
    })()
    lease.busy = done.finally(() => {
      lease.busy = undefined
    })
    return lease.busy.catch((err: unknown) => logger.warn({ err, userId: lease.userId }, 'credit lease not released; the sweeper will return it'))
  }

  /** Idle leases go back; busy ones are renewed well before they could expire. */
  async function maintain(): Promise<void> {
    const t = Date.now()
    for (const lease of [...leases.values()]) {
      if (lease.busy) continue
      if (lease.calls === 0 && lease.pending === 0 && t - lease.lastUsed >= options.idleReleaseMs) {
        await release(lease)
      } else if (lease.persisted && t - lease.renewedAt >= options.ttlMs / 3) {
        const l = lease
        l.busy = grow(l, 0, 0).finally(() => {
          l.busy = undefined
        })
        await l.busy.catch(() => undefined)
      }
    }
  }

  return {
    options,

    /**
     * Holds `amount` for one call. Synchronous while the user's lease covers it and the database
     * answered recently; otherwise one transaction first. Throws 402 INSUFFICIENT_BALANCE (the
     * balance cannot cover it) or 503 SERVICE_UNAVAILABLE (the database is failing).
     */
    admit(userId: string, amount: number): LeaseTicket | Promise<LeaseTicket> {
      if (!Number.isSafeInteger(amount) || amount < 0) throw new Error(`hold must be a non-negative integer of micro-yuan, got ${amount}`)
      const lease = leases.get(userId)
      if (lease && !lease.busy && !lease.closed && !stopped && Date.now() - lastSqlOk < options.freshMs && free(lease) >= amount && queue.length + stuck.length < options.maxPending) {
        return take(lease, amount)
      }
      return admitSlow(userId, amount)
    },

    /**
     * The call ended: its usage row (`row.cost` is what it costs) is queued for the next batch,
     * which charges it and writes the row in one transaction; the rest of its hold returns to the
     * lease at once.
     */
    settle(ticket: LeaseTicket, row: Insertable<ApiCallsTable>): void {
      const t = ticket as Ticket
      if (t.done) throw new Error('a lease ticket is settled once')
      t.done = true
      const cost = Number(row.cost ?? 0)
      t.lease.outstanding -= t.amount
      t.lease.calls--
      t.lease.pending += cost
      const segment = journal.append({ lease: t.lease.ref, userId: t.userId, cost, row })
      queue.push({ lease: t.lease, row, cost, segment })
      if (queue.length >= options.flushMaxRows) scheduleFlush(0)
      else scheduleFlush(options.flushIntervalMs)
    },

    /** The call never reached an upstream and leaves no row: its hold returns to the lease. */
    cancel(ticket: LeaseTicket): void {
      const t = ticket as Ticket
      if (t.done) return
      t.done = true
      t.lease.outstanding -= t.amount
      t.lease.calls--
    },

    flush,

    /** Writes every settled call and returns every lease no call is using (shutdown, tests). */
    async quiesce(): Promise<void> {
      await flush()
      if (stuck.length) await retryStuck()
      await Promise.all([...leases.values()].map((l) => release(l)))
    },

    /**
     * Hands this user's idle lease back to their balance, so other spending (a web chat turn, an
     * admin debit) is not refused for money this process holds but does not need right now.
     */
    async yieldFor(userId: string): Promise<void> {
      const lease = leases.get(userId)
      if (!lease) return
      await flush()
      await release(lease)
    },

    /** Money this process holds for a user in leases (tests, diagnostics). */
    heldFor(userId: string): number {
      const lease = leases.get(userId)
      return lease && !lease.closed ? lease.amount : 0
    },

    /**
     * Boot: settles what a killed process left in the journal (idempotent: a call already
     * committed is skipped), then returns that process's leases named there. Returns how many
     * calls were replayed.
     */
    async recover(): Promise<number> {
      let replayed = 0
      for (const { segment, entries } of journal.leftovers()) {
        if (entries.length === 0) {
          journal.committed({ ...segment, open: 1 })
          continue
        }
        const dead = new Map<string, Lease>()
        const batch: Settled[] = entries.map((e) => {
          let lease = dead.get(e.lease)
          if (!lease) {
            lease = { ...newLease(e.userId), ref: e.lease, persisted: true }
            dead.set(e.lease, lease)
          }
          // What the dead lease still holds for these calls goes to them first.
          lease.amount += e.cost
          lease.pending += e.cost
          return { lease, row: e.row, cost: e.cost, segment }
        })
        while (writing) await writing
        writing = writeOneByOne(batch).finally(() => {
          writing = undefined
        })
        await writing
        replayed += entries.length
        for (const lease of dead.values()) await release(lease)
      }
      if (replayed) logger.warn({ calls: replayed }, 'usage journal replayed after an unclean stop')
      return replayed
    },

    /** Settled calls not yet written (queued, or kept after a failed write). */
    pendingCount: () => queue.length + stuck.length,

    /** Retries the kept calls now (tests; normally a backoff timer does). */
    retryStuck,

    /** Stops admitting, writes what is queued and returns every lease. */
    async close(): Promise<void> {
      clearInterval(maintainTimer)
      await flush()
      if (stuck.length) await retryStuck()
      journal.rotate()
      stopped = true
      if (flushTimer) clearTimeout(flushTimer)
      if (stuckTimer) clearTimeout(stuckTimer)
      await Promise.all([...leases.values()].map((l) => release(l)))
      if (queue.length + stuck.length) logger.error({ calls: queue.length + stuck.length }, 'usage rows could not be written before shutdown')
    },
  }
}

export type CreditLeases = ReturnType<typeof createCreditLeases>
