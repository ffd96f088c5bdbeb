import { setTimeout as sleep } from 'node:timers/promises'
import type { Transaction } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Database } from '../../db/schema'
import { newId } from '../../ids'
import { createTestApp, type TestApp } from '../../test/app'
import { testDialects } from '../../test/services'
import { registerUser } from '../auth/testing'
import { startBillingJobs } from './billing.jobs'
import type { BillingService } from './billing.service'

/**
 * The money invariants at the service level, on SQLite, MariaDB and PostgreSQL: SECURITY.md H1
 * (no overdraft under concurrency), H2 (replays are no-ops), H3 (failures release everything),
 * L2 (retries under contention keep the books right), L3 (orphaned holds are swept).
 */
describe.each(testDialects())('credit ledger and reservations on %s', (dialect) => {
  let t: TestApp
  let billing: BillingService
  beforeAll(async () => {
    t = await createTestApp({ dialect })
    billing = t.app.services.billing
  })
  afterAll(async () => {
    await t.close()
  })

  const k = () => t.deps.db.kysely

  async function userWith(balance: number): Promise<string> {
    const { user } = await registerUser(t)
    if (balance > 0) await billing.credit({ userId: user.id, delta: balance, reason: 'topup', ref: `test:${newId()}` })
    return user.id
  }

  async function funds(userId: string) {
    const row = await k()
      .selectFrom('users')
      .select(['balance', 'reserved'])
      .where('id', '=', userId)
      .executeTakeFirstOrThrow()
    return { balance: Number(row.balance), reserved: Number(row.reserved) }
  }

  async function ledger(userId: string) {
    return k().selectFrom('creditLedger').selectAll().where('userId', '=', userId).orderBy('id').execute()
  }

  /** What the chat turn does at the end: the usage row and the settlement in ONE transaction. */
  async function finishTurn(trx: Transaction<Database>, userId: string, requestId: string, cost: number) {
    await trx
      .insertInto('apiCalls')
      .values({
        id: newId(),
        requestId,
        userId,
        apiKeyId: null,
        source: 'web',
        provider: 'dashscope',
        channelId: null,
        model: 'qwen-plus',
        endpoint: 'chat',
        status: 'ok',
        httpStatus: 200,
        errorCode: null,
        promptTokens: 10,
        completionTokens: 20,
        cachedTokens: 0,
        reasoningTokens: 0,
        images: 0,
        usageEstimated: 0,
        cost,
        latencyMs: null,
        ttftMs: null,
        upstreamRequestId: null,
        createdAt: new Date().toISOString(),
      })
      .execute()
    return billing.settle(trx, { userId, requestId, cost })
  }

  /** Samples the user's row while `work` runs; every sample must be non-negative and not overdrawn. */
  async function watchBalance<T>(userId: string, work: Promise<T>) {
    let done = false
    const bad: Array<{ balance: number; reserved: number }> = []
    let samples = 0
    const watcher = (async () => {
      while (!done) {
        const f = await funds(userId)
        samples++
        if (f.balance < 0 || f.reserved < 0 || f.balance - f.reserved < 0) bad.push(f)
        await sleep(1)
      }
    })()
    try {
      return { result: await work, bad, samples: () => samples }
    } finally {
      done = true
      await watcher
    }
  }

  it('H1: of 100 concurrent requests against a balance that covers 10, exactly 10 are served and the books balance', async () => {
    const hold = 10_000
    const start = 10 * hold
    const userId = await userWith(start)
    const { result: settledCosts, bad } = await watchBalance(
      userId,
      (async () => {
        // Phase 1: 100 concurrent reservations, none released yet — the pure overdraft race.
        const attempts = await Promise.all(
          Array.from({ length: 100 }, async () => {
            const requestId = newId()
            try {
              await billing.reserve({ userId, requestId, amount: hold })
              return requestId
            } catch (err) {
              expect((err as { code?: string }).code).toBe('INSUFFICIENT_BALANCE')
              return undefined
            }
          }),
        )
        const admitted = attempts.filter((id): id is string => id !== undefined)
        expect(admitted).toHaveLength(10)
        expect(await funds(userId)).toEqual({ balance: start, reserved: start })
        // Phase 2: the admitted turns finish concurrently, each settling inside its usage transaction.
        return Promise.all(
          admitted.map(async (requestId) => {
            const cost = 1 + Math.floor(Math.random() * hold)
            const result = await k()
              .transaction()
              .execute((trx) => finishTurn(trx, userId, requestId, cost))
            expect(result).toEqual({ charged: cost, released: hold, replayed: false })
            return cost
          }),
        )
      })(),
    )
    expect(bad).toEqual([])
    const end = await funds(userId)
    expect(end.reserved).toBe(0)
    expect(end.balance).toBeGreaterThanOrEqual(0)
    const calls = await k().selectFrom('apiCalls').select('cost').where('userId', '=', userId).execute()
    expect(calls).toHaveLength(10)
    const sumCalls = calls.reduce((s, c) => s + Number(c.cost), 0)
    const usage = (await ledger(userId)).filter((e) => e.reason === 'usage')
    expect(usage).toHaveLength(10)
    const sumUsage = usage.reduce((s, e) => s + Number(e.delta), 0)
    expect(start - end.balance).toBe(sumCalls)
    expect(-sumUsage).toBe(sumCalls)
    expect(sumCalls).toBe(settledCosts.reduce((s, c) => s + c, 0))
    for (const e of await ledger(userId)) expect(Number(e.balanceAfter)).toBeGreaterThanOrEqual(0)
  })

  it('H1/L2: 100 interleaved reserve→settle flows never overdraw and start − end = Σ api_calls costs', async () => {
    const hold = 5_000
    const start = 10 * hold
    const userId = await userWith(start)
    const flows = Array.from({ length: 100 }, async () => {
      const requestId = newId()
      try {
        await billing.reserve({ userId, requestId, amount: hold })
      } catch (err) {
        expect((err as { code?: string }).code).toBe('INSUFFICIENT_BALANCE')
        return 0
      }
      const cost = 1 + Math.floor(Math.random() * hold)
      await t.deps.db.kysely.transaction().execute((trx) => finishTurn(trx, userId, requestId, cost))
      return 1
    })
    const { result, bad, samples } = await watchBalance(userId, Promise.all(flows))
    const served = result.reduce((s: number, n) => s + n, 0)
    expect(samples()).toBeGreaterThan(0)
    expect(bad).toEqual([])
    expect(served).toBeGreaterThanOrEqual(10)
    const end = await funds(userId)
    expect(end.reserved).toBe(0)
    expect(end.balance).toBeGreaterThanOrEqual(0)
    const calls = await k().selectFrom('apiCalls').select('cost').where('userId', '=', userId).execute()
    expect(calls).toHaveLength(served)
    const sumCalls = calls.reduce((s, c) => s + Number(c.cost), 0)
    const sumUsage = (await ledger(userId)).filter((e) => e.reason === 'usage').reduce((s, e) => s + Number(e.delta), 0)
    expect(start - end.balance).toBe(sumCalls)
    expect(-sumUsage).toBe(sumCalls)
  })

  it('refuses a reservation larger than the available money with 402 before anything is held', async () => {
    const userId = await userWith(1_000)
    const requestId = newId()
    await expect(billing.reserve({ userId, requestId, amount: 1_001 })).rejects.toMatchObject({
      code: 'INSUFFICIENT_BALANCE',
      status: 402,
    })
    expect(await funds(userId)).toEqual({ balance: 1_000, reserved: 0 })
    const rows = await k().selectFrom('creditReservations').selectAll().where('requestId', '=', requestId).execute()
    expect(rows).toEqual([])
    // The same request id can be tried again once there is money.
    await billing.credit({ userId, delta: 1, reason: 'topup', ref: `test:${newId()}` })
    await expect(billing.reserve({ userId, requestId, amount: 1_001 })).resolves.toMatchObject({ status: 'held' })
  })

  it('H2: replaying a reservation, a settlement or a credit changes nothing', async () => {
    const userId = await userWith(100_000)
    const requestId = newId()
    const first = await billing.reserve({ userId, requestId, amount: 10_000 })
    const again = await billing.reserve({ userId, requestId, amount: 10_000 })
    expect(again.id).toBe(first.id)
    expect(await funds(userId)).toEqual({ balance: 100_000, reserved: 10_000 })

    const settled = await billing.settleNow({ userId, requestId, cost: 4_000 })
    expect(settled).toEqual({ charged: 4_000, released: 10_000, replayed: false })
    // Sequential and concurrent replays of the same settlement.
    const replays = await Promise.all([
      billing.settleNow({ userId, requestId, cost: 4_000 }),
      billing.settleNow({ userId, requestId, cost: 4_000 }),
      billing.settleNow({ userId, requestId, cost: 9_999 }),
    ])
    for (const r of replays) expect(r).toEqual({ charged: 0, released: 0, replayed: true })
    expect(await funds(userId)).toEqual({ balance: 96_000, reserved: 0 })
    expect((await ledger(userId)).filter((e) => e.ref === `usage:${requestId}`)).toHaveLength(1)

    // A late release after settlement returns nothing.
    expect(await billing.release({ userId, requestId })).toBe(0)
    expect(await funds(userId)).toEqual({ balance: 96_000, reserved: 0 })

    const ref = `test:${newId()}`
    const credits = await Promise.all([
      billing.credit({ userId, delta: 500, reason: 'refund', ref }),
      billing.credit({ userId, delta: 500, reason: 'refund', ref }),
    ])
    expect(credits[0].entry.id).toBe(credits[1].entry.id)
    expect(credits.filter((c) => c.replayed)).toHaveLength(1)
    const third = await billing.credit({ userId, delta: 500, reason: 'refund', ref })
    expect(third).toMatchObject({ replayed: true, entry: { id: credits[0].entry.id, balanceAfter: 96_500 } })
    expect(await funds(userId)).toEqual({ balance: 96_500, reserved: 0 })
  })

  it('H2: a settlement replayed inside a transaction that goes on keeps that transaction usable', async () => {
    const userId = await userWith(10_000)
    const requestId = newId()
    await billing.settleNow({ userId, requestId, cost: 1_000 })
    const marker = newId()
    await k()
      .transaction()
      .execute(async (trx) => {
        expect(await billing.settle(trx, { userId, requestId, cost: 1_000 })).toMatchObject({ replayed: true })
        // Still usable afterwards (no aborted PostgreSQL transaction).
        await trx
          .insertInto('settings')
          .values({ key: marker.slice(0, 60), value: '1', updatedAt: new Date().toISOString(), updatedBy: null })
          .execute()
      })
    expect(await k().selectFrom('settings').select('key').where('key', '=', marker.slice(0, 60)).execute()).toHaveLength(1)
    expect(await funds(userId)).toEqual({ balance: 9_000, reserved: 0 })
  })

  it('H3: a failure before any token releases the whole hold; induced failures never raise the balance', async () => {
    const userId = await userWith(50_000)
    const requestId = newId()
    await billing.reserve({ userId, requestId, amount: 20_000 })
    expect(await billing.getBalance(userId)).toEqual({ balance: 50_000, reserved: 20_000, available: 30_000 })
    expect(await billing.release({ userId, requestId })).toBe(20_000)
    expect(await billing.getBalance(userId)).toEqual({ balance: 50_000, reserved: 0, available: 50_000 })
    // Releasing again, releasing a hold that never existed, or someone else's: nothing moves.
    expect(await billing.release({ userId, requestId })).toBe(0)
    expect(await billing.release({ userId, requestId: newId() })).toBe(0)
    const other = await userWith(10_000)
    const othersHold = newId()
    await billing.reserve({ userId: other, requestId: othersHold, amount: 5_000 })
    expect(await billing.release({ userId, requestId: othersHold })).toBe(0)
    expect(await funds(other)).toEqual({ balance: 10_000, reserved: 5_000 })
    // A zero-cost settlement (the turn failed with no tokens) also frees the hold and charges nothing.
    const failed = newId()
    await billing.reserve({ userId, requestId: failed, amount: 7_000 })
    await t.deps.db.kysely.transaction().execute((trx) => finishTurn(trx, userId, failed, 0))
    expect(await funds(userId)).toEqual({ balance: 50_000, reserved: 0 })
    expect((await ledger(userId)).filter((e) => e.reason === 'usage')).toEqual([])
    expect(
      (await k().selectFrom('creditReservations').select('status').where('requestId', '=', failed).executeTakeFirst())?.status,
    ).toBe('released')
  })

  it('H3: a failure after tokens bills those tokens, even when the hold was already swept', async () => {
    const userId = await userWith(30_000)
    const requestId = newId()
    await billing.reserve({ userId, requestId, amount: 10_000, ttlMs: 1_000 })
    expect(await billing.sweepReservations(new Date(Date.now() + 5_000))).toBeGreaterThanOrEqual(1)
    expect(await funds(userId)).toEqual({ balance: 30_000, reserved: 0 })
    const result = await billing.settleNow({ userId, requestId, cost: 2_500 })
    expect(result).toEqual({ charged: 2_500, released: 0, replayed: false })
    expect(await funds(userId)).toEqual({ balance: 27_500, reserved: 0 })
  })

  it('caps a charge at the available money so the balance never goes negative', async () => {
    const userId = await userWith(3_000)
    const requestId = newId()
    await billing.reserve({ userId, requestId, amount: 2_000 })
    const result = await billing.settleNow({ userId, requestId, cost: 9_000 })
    expect(result).toEqual({ charged: 3_000, released: 2_000, replayed: false })
    expect(await funds(userId)).toEqual({ balance: 0, reserved: 0 })
    const [entry] = (await ledger(userId)).filter((e) => e.reason === 'usage')
    expect(entry).toMatchObject({ delta: -3_000, balanceAfter: 0 })
    expect(entry!.note).toContain('9000')
    expect(t.logs.text).toContain('charge capped')
    // Settled without any reservation (flows that do not reserve) and with nothing left: a 0 entry.
    const later = newId()
    expect(await billing.settleNow({ userId, requestId: later, cost: 100 })).toEqual({
      charged: 0,
      released: 0,
      replayed: false,
    })
    expect(await funds(userId)).toEqual({ balance: 0, reserved: 0 })
  })

  it('a debit credit cannot take the balance below what is held or below zero', async () => {
    const userId = await userWith(10_000)
    await billing.reserve({ userId, requestId: newId(), amount: 4_000 })
    await expect(
      billing.credit({ userId, delta: -6_001, reason: 'admin_adjust', ref: `test:${newId()}` }),
    ).rejects.toMatchObject({ code: 'INSUFFICIENT_BALANCE' })
    const ok = await billing.credit({ userId, delta: -6_000, reason: 'admin_adjust', ref: `test:${newId()}` })
    expect(ok.entry).toMatchObject({ delta: -6_000, balanceAfter: 4_000 })
    expect(await funds(userId)).toEqual({ balance: 4_000, reserved: 4_000 })
    await expect(
      billing.credit({ userId: newId(), delta: 5, reason: 'admin_adjust', ref: `test:${newId()}` }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' })
  })

  it('L3: the sweeper releases holds orphaned by a crash, at boot and on its schedule, and only expired ones', async () => {
    const userId = await userWith(100_000)
    const orphan = newId()
    const live = newId()
    await billing.reserve({ userId, requestId: orphan, amount: 30_000 })
    await billing.reserve({ userId, requestId: live, amount: 20_000 })
    // The previous process died long ago, mid-request: its hold is past expiry.
    await k()
      .updateTable('creditReservations')
      .set({ expiresAt: new Date(Date.now() - 60_000).toISOString() })
      .where('requestId', '=', orphan)
      .execute()
    const stop = await startBillingJobs(t.deps, billing)
    await stop()
    expect(await funds(userId)).toEqual({ balance: 100_000, reserved: 20_000 })
    const rows = await k()
      .selectFrom('creditReservations')
      .select(['requestId', 'status'])
      .where('requestId', 'in', [orphan, live])
      .execute()
    expect(Object.fromEntries(rows.map((r) => [r.requestId, r.status]))).toEqual({ [orphan]: 'released', [live]: 'held' })
    // Sweeping again finds nothing for this user, and the turn that finally settles is billed once.
    await billing.sweepReservations()
    expect(await funds(userId)).toEqual({ balance: 100_000, reserved: 20_000 })
    await billing.settleNow({ userId, requestId: live, cost: 1_000 })
    expect(await funds(userId)).toEqual({ balance: 99_000, reserved: 0 })
  })
})
