import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { newId } from '../../ids'
import { createTestApp, type TestApp } from '../../test/app'
import { testDialects } from '../../test/services'
import { bearer, promote, registerUser, type TestAccount } from '../auth/testing'

/**
 * The billing HTTP API: balance, own ledger, admin adjustments (audited, never below zero,
 * strict integer amounts — SECURITY.md D4), and tenancy of the ledger. On every dialect.
 */
describe.each(testDialects())('billing API on %s', (dialect) => {
  let t: TestApp
  let admin: TestAccount
  beforeAll(async () => {
    t = await createTestApp({ dialect })
    admin = await registerUser(t)
    await promote(t, admin.user.id)
  })
  afterAll(async () => {
    await t.close()
  })

  const adjust = (userId: string, payload: unknown, token = admin.accessToken) =>
    t.inject({
      method: 'POST',
      url: `/api/admin/users/${userId}/balance`,
      headers: { ...bearer(token), 'content-type': 'application/json' },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    })
  const balance = (token: string) => t.inject({ method: 'GET', url: '/api/billing/balance', headers: bearer(token) })
  const ledger = (token: string, query = '') =>
    t.inject({ method: 'GET', url: `/api/billing/ledger${query}`, headers: bearer(token) })

  it('shows a new account an empty balance and ledger; requires sign-in', async () => {
    const alice = await registerUser(t)
    const res = await balance(alice.accessToken)
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ balance: 0, reserved: 0, available: 0 })
    expect((await ledger(alice.accessToken)).json()).toEqual({ items: [], nextCursor: null })
    expect((await t.inject({ method: 'GET', url: '/api/billing/balance' })).statusCode).toBe(401)
    expect((await t.inject({ method: 'GET', url: '/api/billing/ledger' })).statusCode).toBe(401)
  })

  it('lets an admin credit and debit with a reason: ledger entry, audit row, updated user', async () => {
    const alice = await registerUser(t)
    const credit = await adjust(alice.user.id, { delta: 5_000_000, reason: '补偿：服务中断' })
    expect(credit.statusCode).toBe(200)
    const body = credit.json()
    expect(body.user).toMatchObject({ id: alice.user.id, balance: 5_000_000 })
    expect(body.entry).toMatchObject({
      delta: 5_000_000,
      balanceAfter: 5_000_000,
      reason: 'admin_adjust',
      note: '补偿：服务中断',
    })
    expect(body.entry.ref).toMatch(/^admin:/)

    const debit = await adjust(alice.user.id, { delta: -1_500_000, reason: 'correction' })
    expect(debit.statusCode).toBe(200)
    expect(debit.json().entry).toMatchObject({ delta: -1_500_000, balanceAfter: 3_500_000 })

    expect((await balance(alice.accessToken)).json()).toEqual({ balance: 3_500_000, reserved: 0, available: 3_500_000 })
    const me = await t.inject({ method: 'GET', url: '/api/me', headers: bearer(alice.accessToken) })
    expect(me.json().balance).toBe(3_500_000)
    const entries = (await ledger(alice.accessToken)).json().items
    expect(entries.map((e: { delta: number }) => e.delta)).toEqual([-1_500_000, 5_000_000])

    const audits = await t.deps.db.kysely
      .selectFrom('auditLogs')
      .selectAll()
      .where('action', '=', 'billing.balance_adjusted')
      .where('targetId', '=', alice.user.id)
      .orderBy('id')
      .execute()
    expect(audits).toHaveLength(2)
    expect(audits[0]).toMatchObject({ actorId: admin.user.id, severity: 'warning', targetType: 'user' })
    expect(JSON.parse(audits[0]!.details!)).toMatchObject({ delta: 5_000_000, reason: '补偿：服务中断' })
  })

  it('never takes a balance below zero (402, nothing written)', async () => {
    const bob = await registerUser(t)
    await adjust(bob.user.id, { delta: 1_000, reason: 'gift' })
    const res = await adjust(bob.user.id, { delta: -1_001, reason: 'too much' })
    expect(res.statusCode).toBe(402)
    expect(res.json().error.code).toBe('INSUFFICIENT_BALANCE')
    expect(res.json().error.message).toMatch(/below zero/)
    expect((await balance(bob.accessToken)).json().balance).toBe(1_000)
    expect((await ledger(bob.accessToken)).json().items).toHaveLength(1)
  })

  it('D4: refuses amounts that are not bounded integers, and unknown fields', async () => {
    const carol = await registerUser(t)
    const bad: unknown[] = [
      { delta: '1e9', reason: 'x' },
      { delta: 1.5, reason: 'x' },
      { delta: 0, reason: 'x' },
      { delta: 1e308, reason: 'x' },
      { delta: 1_000_000_000_001, reason: 'x' },
      { delta: -1_000_000_000_001, reason: 'x' },
      { delta: 'NaN', reason: 'x' },
      { delta: null, reason: 'x' },
      { delta: 5 },
      { delta: 5, reason: '' },
      { delta: 5, reason: 'x'.repeat(501) },
      { delta: 5, reason: 'x', balance: 1e9 },
      '{"delta": NaN, "reason": "x"}',
      '[{"delta": 5, "reason": "x"}]',
    ]
    for (const payload of bad) {
      const res = await adjust(carol.user.id, payload)
      expect(res.statusCode, JSON.stringify(payload)).toBe(400)
      expect(res.json().error.code).toMatch(/VALIDATION_FAILED/)
    }
    expect((await balance(carol.accessToken)).json().balance).toBe(0)
    expect((await ledger(carol.accessToken)).json().items).toEqual([])
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined()
  })

  it('D4: prototype keys in the body have no effect beyond the named fields', async () => {
    const frank = await registerUser(t)
    const res = await adjust(
      frank.user.id,
      '{"delta": 5, "reason": "x", "__proto__": {"delta": 1000000}, "constructor": {"prototype": {"isAdmin": true}}}',
    )
    // The parser strips the prototype keys; what is left is an ordinary, valid adjustment of 5.
    expect([200, 400]).toContain(res.statusCode)
    expect((await balance(frank.accessToken)).json().balance).toBe(res.statusCode === 200 ? 5 : 0)
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined()
    expect(({} as Record<string, unknown>).delta).toBeUndefined()
    const next = await adjust(frank.user.id, { delta: 1, reason: 'y' })
    expect(next.json().entry.delta).toBe(1)
  })

  it('answers 404 for an unknown account and 403 for a non-admin', async () => {
    const missing = await adjust(newId(), { delta: 5, reason: 'x' })
    expect(missing.statusCode).toBe(404)
    const dave = await registerUser(t)
    const forbidden = await adjust(dave.user.id, { delta: 1_000_000, reason: 'self-service' }, dave.accessToken)
    expect(forbidden.statusCode).toBe(403)
    expect((await balance(dave.accessToken)).json().balance).toBe(0)
  })

  it("never shows another user's ledger entries, whatever the cursor", async () => {
    const alice = await registerUser(t)
    const bob = await registerUser(t)
    await adjust(alice.user.id, { delta: 777, reason: 'alice only' })
    const aliceEntries = (await ledger(alice.accessToken)).json().items
    expect(aliceEntries).toHaveLength(1)
    expect((await ledger(bob.accessToken)).json().items).toEqual([])
    // Alice's entry id as Bob's cursor still pages through Bob's rows only.
    const withCursor = await ledger(bob.accessToken, `?cursor=${aliceEntries[0].id}`)
    expect(withCursor.statusCode).toBe(200)
    expect(withCursor.json().items).toEqual([])
    expect(withCursor.body).not.toContain('alice only')
  })

  it('pages the ledger newest first with a cursor', async () => {
    const erin = await registerUser(t)
    for (const delta of [1, 2, 3]) await adjust(erin.user.id, { delta, reason: `step ${delta}` })
    const first = await ledger(erin.accessToken, '?limit=2')
    expect(first.json().items.map((e: { delta: number }) => e.delta)).toEqual([3, 2])
    const second = await ledger(erin.accessToken, `?limit=2&cursor=${first.json().nextCursor}`)
    expect(second.json()).toMatchObject({ nextCursor: null })
    expect(second.json().items.map((e: { delta: number }) => e.delta)).toEqual([1])
    expect((await ledger(erin.accessToken, '?limit=0')).statusCode).toBe(400)
    expect((await ledger(erin.accessToken, '?limit=1&limit=2')).statusCode).toBe(400)
  })
})
