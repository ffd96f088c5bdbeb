import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { AppError } from '../../errors'
import { newId } from '../../ids'
import { createTestApp, type TestApp } from '../../test/app'
import { refuseWrites } from '../../test/faults'
import { testDialects } from '../../test/services'
import { registerUser } from '../auth/testing'
import { apiCallRow } from '../usage/testing'
import { createChatBillingHooks } from './chat-hooks'
import { createCreditLeases, type CreditLeases, type LeaseOptions, type LeaseTicket } from './leases'

/**
 * Credit leases (ADR 0004) on SQLite, MariaDB and PostgreSQL: calls admitted in memory never take
 * more than the lease holds in SQL (H1); a batch writes each call's usage row and charge once
 * (invariant 2, H2); failed writes are kept and retried, never lost (L2); a database that stops
 * answering refuses new calls (L1); leases go back when idle, at shutdown, for a web chat turn,
 * or through the sweeper after a crash (L3).
 */
describe.each(testDialects())('credit leases on %s', (dialect) => {
  let t: TestApp
  const opened: CreditLeases[] = []
  beforeAll(async () => {
    t = await createTestApp({ dialect })
  })
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((l) => l.close()))
  })
  afterAll(async () => {
    await t.close()
  })

  const k = () => t.deps.db.kysely
  /** A lease manager of its own with quick timers (the app's is left alone). */
  const leasesWith = (o: Partial<LeaseOptions> = {}) => {
    const l = createCreditLeases(t.deps, { billing: t.app.services.billing }, { flushIntervalMs: 5, ...o })
    opened.push(l)
    return l
  }

  async function userWith(balance: number): Promise<string> {
    const { user } = await registerUser(t)
    await k().updateTable('users').set({ balance, reserved: 0 }).where('id', '=', user.id).execute()
    return user.id
  }
  async function funds(userId: string) {
    const row = await k().selectFrom('users').select(['balance', 'reserved']).where('id', '=', userId).executeTakeFirstOrThrow()
    return { balance: Number(row.balance), reserved: Number(row.reserved) }
  }
  const rowsOf = (userId: string) => k().selectFrom('apiCalls').selectAll().where('userId', '=', userId).execute()
  const ledgerOf = (userId: string) => k().selectFrom('creditLedger').selectAll().where('userId', '=', userId).where('reason', '=', 'usage').execute()
  const leaseRows = (userId: string) => k().selectFrom('creditReservations').selectAll().where('userId', '=', userId).where('requestId', 'like', 'lease:%').execute()

  const usageRow = (userId: string, cost: number, requestId = `api:${newId()}`) => apiCallRow({ userId, cost, requestId, source: 'api' })


  it('a lease is held in SQL like any hold; calls inside it are admitted without a database round trip', async () => {
    const leases = leasesWith()
    const userId = await userWith(1_000_000)
    const first = leases.admit(userId, 1_000)
    expect(first).toBeInstanceOf(Promise)
    const ticket = await first
    const held = leases.heldFor(userId)
    expect(held).toBeGreaterThanOrEqual(16 * 1_000)
    expect(await funds(userId)).toEqual({ balance: 1_000_000, reserved: held })
    expect((await leaseRows(userId)).map((r) => [r.status, Number(r.amount)])).toEqual([['held', held]])
    // The next calls fit in the lease: admitted synchronously.
    const more = Array.from({ length: 10 }, () => leases.admit(userId, 1_000))
    expect(more.some((m) => m instanceof Promise)).toBe(false)
    for (const m of [ticket, ...(more as LeaseTicket[])]) leases.settle(m, usageRow(userId, 700))
    await leases.quiesce()
    expect(await funds(userId)).toEqual({ balance: 1_000_000 - 11 * 700, reserved: 0 })
    expect(await rowsOf(userId)).toHaveLength(11)
    const entries = await ledgerOf(userId)
    expect(entries).toHaveLength(11)
    expect(entries.every((e) => Number(e.delta) === -700)).toBe(true)
    expect(Math.min(...entries.map((e) => Number(e.balanceAfter)))).toBe(1_000_000 - 11 * 700)
    expect((await leaseRows(userId)).map((r) => r.status)).toEqual(['released'])
  })

  it('H1: 100 concurrent admissions against a balance covering 10 → 10 admitted, the rest 402; books balance', async () => {
    const leases = leasesWith()
    const hold = 5_000
    const initial = 10 * hold + hold - 1
    const userId = await userWith(initial)
    const results = await Promise.allSettled(Array.from({ length: 100 }, () => Promise.resolve().then(() => leases.admit(userId, hold))))
    const admitted = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []))
    expect(admitted).toHaveLength(10)
    expect(refused.every((e) => e instanceof AppError && e.code === 'INSUFFICIENT_BALANCE')).toBe(true)
    const mid = await funds(userId)
    expect(mid.reserved).toBeLessThanOrEqual(mid.balance)
    admitted.forEach((ticket, i) => leases.settle(ticket, usageRow(userId, 1_000 + i)))
    await leases.quiesce()
    const end = await funds(userId)
    const spent = (await rowsOf(userId)).reduce((sum, r) => sum + Number(r.cost), 0)
    expect(end.reserved).toBe(0)
    expect(end.balance).toBeGreaterThanOrEqual(0)
    expect(initial - end.balance).toBe(spent)
    expect(spent).toBe(10 * 1_000 + 45)
  })

  it('money held by a lease is not available to anything else, and a web chat turn gets it back first', async () => {
    const leases = leasesWith()
    // Less than the 16 holds a new lease asks for: it takes all there is.
    const userId = await userWith(10_000)
    const ticket = await leases.admit(userId, 1_000)
    leases.settle(ticket, usageRow(userId, 500))
    await leases.flush()
    const { reserved, balance } = await funds(userId)
    expect(reserved).toBe(balance) // the lease took everything available
    await expect(t.app.services.billing.reserve({ userId, requestId: `chat:${newId()}`, amount: 1_000 })).rejects.toMatchObject({ code: 'INSUFFICIENT_BALANCE' })
    // The chat turn's hook runs before its transaction: the idle lease goes back.
    await createChatBillingHooks(t.app.services.billing, leases).beforeTransaction(userId)
    expect(await funds(userId)).toEqual({ balance: 9_500, reserved: 0 })
    await expect(t.app.services.billing.reserve({ userId, requestId: `chat:${newId()}`, amount: 1_000 })).resolves.toMatchObject({ status: 'held' })
  })

  it('an unused lease goes back on its own after the idle time', async () => {
    const leases = leasesWith({ idleReleaseMs: 50, maintainMs: 10 })
    const userId = await userWith(100_000)
    leases.cancel(await leases.admit(userId, 2_000))
    expect((await funds(userId)).reserved).toBeGreaterThan(0)
    // The lease forgets its money only after the release committed, so wait on that: the row can
    // read released a moment before the release's promise resumes (seen on MariaDB in CI).
    for (let i = 0; i < 200 && leases.heldFor(userId) > 0; i++) await sleep(10)
    expect(leases.heldFor(userId)).toBe(0)
    expect(await funds(userId)).toEqual({ balance: 100_000, reserved: 0 })
  })

  it('H2: a call already recorded is not charged twice when its batch is written', async () => {
    const leases = leasesWith()
    const userId = await userWith(100_000)
    const requestId = `api:${newId()}`
    // Recorded and charged already (a replay of the same request id).
    await t.app.services.chat.recordApiCall(usageRow(userId, 300, requestId), (trx) =>
      t.app.services.billing.settle(trx, { userId, requestId, cost: 300 }).then(() => undefined),
    )
    const a = await leases.admit(userId, 1_000)
    const b = await leases.admit(userId, 1_000)
    leases.settle(a, usageRow(userId, 300, requestId))
    leases.settle(b, usageRow(userId, 400))
    await leases.quiesce()
    expect(await funds(userId)).toEqual({ balance: 100_000 - 300 - 400, reserved: 0 })
    expect(await rowsOf(userId)).toHaveLength(2)
    expect((await ledgerOf(userId)).map((e) => Number(e.delta)).sort((x, y) => x - y)).toEqual([-400, -300])
  })

  it('L2: usage rows that cannot be written are kept and written after recovery; nothing lost, nothing twice', async () => {
    const leases = leasesWith()
    const userId = await userWith(100_000)
    const restore = await refuseWrites(t.deps.db, 'api_calls')
    let restored = false
    try {
      for (let i = 0; i < 5; i++) leases.settle(await leases.admit(userId, 1_000), usageRow(userId, 100))
      await leases.flush()
      expect(leases.pendingCount()).toBe(5)
      expect(await rowsOf(userId)).toHaveLength(0)
      // The money for them stays held meanwhile.
      expect((await funds(userId)).balance).toBe(100_000)
      await restore()
      restored = true
      await leases.retryStuck()
    } finally {
      if (!restored) await restore()
    }
    expect(leases.pendingCount()).toBe(0)
    await leases.quiesce()
    expect(await rowsOf(userId)).toHaveLength(5)
    expect(await funds(userId)).toEqual({ balance: 100_000 - 500, reserved: 0 })
  })

  it('L1: a database that stops answering → new calls get 503 once the lease is no longer fresh', async () => {
    const leases = leasesWith({ freshMs: 50 })
    const userId = await userWith(100_000)
    leases.settle(await leases.admit(userId, 1_000), usageRow(userId, 100))
    await leases.flush()
    const restore = await refuseWrites(t.deps.db, 'credit_reservations')
    try {
      await sleep(60)
      await expect(Promise.resolve().then(() => leases.admit(userId, 1_000))).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' })
    } finally {
      await restore()
    }
    leases.settle(await leases.admit(userId, 1_000), usageRow(userId, 100))
    await leases.quiesce()
    expect(await funds(userId)).toEqual({ balance: 100_000 - 200, reserved: 0 })
  })

  it('L3: a process that dies holding a lease → the sweeper returns it after expiry; queued usage of a swept lease is still charged', async () => {
    const dead = createCreditLeases(t.deps, { billing: t.app.services.billing }, { ttlMs: 1_000 })
    const userId = await userWith(100_000)
    await dead.admit(userId, 1_000)
    // The "crash": the process is gone, its lease row stays held.
    expect((await funds(userId)).reserved).toBeGreaterThan(0)
    await t.app.services.billing.sweepReservations(new Date(Date.now() + 2_000))
    expect(await funds(userId)).toEqual({ balance: 100_000, reserved: 0 })

    // A live process whose lease was swept (it stalled past the expiry) still charges its calls.
    const stalled = leasesWith({ ttlMs: 1_000 })
    const other = await userWith(50_000)
    const ticket = await stalled.admit(other, 1_000)
    await t.app.services.billing.sweepReservations(new Date(Date.now() + 2_000))
    stalled.settle(ticket, usageRow(other, 600))
    await stalled.quiesce()
    expect(await funds(other)).toEqual({ balance: 50_000 - 600, reserved: 0 })
    // The next call opens a new lease.
    stalled.cancel(await stalled.admit(other, 1_000))
    expect((await leaseRows(other)).filter((r) => r.status === 'held')).toHaveLength(1)
    await dead.close()
  })

  it('invariant 3: calls settled but not yet written when the process dies are replayed from the journal at the next boot, once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qiao-journal-'))
    try {
      // The dying process: it settles three calls but never gets to write its batch.
      const dying = leasesWith({ journalDir: dir, flushIntervalMs: 3_600_000, flushMaxRows: 1_000 })
      const userId = await userWith(100_000)
      for (const cost of [100, 200, 300]) dying.settle(await dying.admit(userId, 1_000), usageRow(userId, cost))
      // Lines reach the file at the end of the event-loop turn that settled them.
      await new Promise((r) => setImmediate(r))
      const files = readdirSync(dir)
      expect(files).toHaveLength(1)
      expect(readFileSync(join(dir, files[0]!), 'utf8').trim().split('\n')).toHaveLength(3)
      // The kill tore the line being written.
      appendFileSync(join(dir, files[0]!), '{"lease":"lease:x","userId":')
      expect(await rowsOf(userId)).toHaveLength(0)

      const booted = leasesWith({ journalDir: dir })
      expect(await booted.recover()).toBe(3)
      expect(readdirSync(dir)).toEqual([])
      expect((await rowsOf(userId)).map((r) => Number(r.cost)).sort((a, b) => a - b)).toEqual([100, 200, 300])
      // Charged once, from the dead process's lease, which is then returned.
      expect(await funds(userId)).toEqual({ balance: 100_000 - 600, reserved: 0 })
      expect((await leaseRows(userId)).map((r) => r.status)).toEqual(['released'])

      // If the "dead" process writes its batch after all, nothing happens twice.
      await dying.quiesce()
      expect(await rowsOf(userId)).toHaveLength(3)
      expect(await funds(userId)).toEqual({ balance: 100_000 - 600, reserved: 0 })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('a batch written to SQL removes its journal segment', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qiao-journal-'))
    try {
      const leases = leasesWith({ journalDir: dir })
      const userId = await userWith(100_000)
      leases.settle(await leases.admit(userId, 1_000), usageRow(userId, 100))
      expect(readdirSync(dir)).toHaveLength(1)
      await leases.flush()
      expect(readdirSync(dir)).toEqual([])
      expect(await rowsOf(userId)).toHaveLength(1)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
