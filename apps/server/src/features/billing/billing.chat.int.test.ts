import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { newId } from '../../ids'
import { ADAPTERS } from '../../providers/adapters'
import type { ProviderAdapter } from '../../providers/types'
import { testDialects } from '../../test/services'
import { bearer, registerUser } from '../auth/testing'
import { rewireChat, startChatHarness, type ChatHarness } from '../chat/testing'
import { createConversation } from '../conversations/testing'
import { createChatBillingHooks } from './chat-hooks'

/**
 * The acceptance test, end to end through HTTP, the real chat turn and the emulator as
 * upstream (SECURITY.md H1, H3, invariant 2): 100 concurrent turns for a user whose balance
 * covers 10 — at most 10 are served, the rest get 402 before any upstream call, the balance never
 * goes negative, and start − end = Σ api_calls costs. On SQLite, MariaDB and PostgreSQL.
 */
describe.each(testDialects())('chat turns against the ledger on %s', (dialect) => {
  let h: ChatHarness
  beforeAll(async () => {
    // Accounts start at ¥0 here: every yuan in play is credited by the test itself.
    h = await startChatHarness(dialect, { defaultBalance: 0 })
  })
  afterAll(async () => {
    await h.close()
  })

  const k = () => h.t.deps.db.kysely
  const chatCalls = () => h.emu.requests.filter((r) => r.path.endsWith('/chat/completions')).length
  const turn = (token: string, conversationId: string) =>
    h.t.inject({
      method: 'POST',
      url: `/api/conversations/${conversationId}/messages`,
      headers: bearer(token),
      payload: { content: 'Tell me about bridges.' },
    })
  async function funds(userId: string) {
    const row = await k().selectFrom('users').select(['balance', 'reserved']).where('id', '=', userId).executeTakeFirstOrThrow()
    return { balance: Number(row.balance), reserved: Number(row.reserved) }
  }

  /**
   * Chat wired to the ledger, with an upstream that waits at `gate` until released: every turn
   * that got past its reservation is still holding it while the others try theirs.
   */
  function wire(gate?: Promise<void>, onEnter?: () => void) {
    const real = ADAPTERS.dashscope
    const gated: ProviderAdapter = {
      ...real,
      kind: real.kind,
      async *chat(req, ctx) {
        onEnter?.()
        if (gate) await gate
        yield* real.chat(req, ctx)
      },
    }
    rewireChat(h.t, {
      registry: { adapters: { dashscope: gated } },
      chat: { hooks: createChatBillingHooks(h.t.app.services.billing) },
    })
  }

  it('of 100 concurrent turns against a balance that covers 10, at most 10 are served and the books balance', async () => {
    const owner = await registerUser(h.t)
    // Generous rate limits: this test is about money, not request rates.
    await h.t.app.services.settings.update(
      owner.user.id,
      { rateLimits: { userRpm: 100_000, userTpm: 100_000_000, maxConcurrentStreams: 1_000, modelRpm: 1_000_000 } },
      { ip: '127.0.0.1' },
    )

    // Calibrate: what one such turn holds (same model, same fresh-conversation prompt).
    wire()
    const rich = await registerUser(h.t)
    await h.t.app.services.billing.credit({ userId: rich.user.id, delta: 1_000_000_000, reason: 'topup', ref: `test:${newId()}` })
    const probe = await turn(rich.accessToken, (await createConversation(h.t, rich.accessToken, { model: 'qwen-plus' })).id)
    expect(probe.statusCode).toBe(200)
    const hold = Number(
      (await k().selectFrom('creditReservations').select('amount').where('userId', '=', rich.user.id).executeTakeFirstOrThrow())
        .amount,
    )
    expect(hold).toBeGreaterThan(0)

    const user = await registerUser(h.t)
    const start = 10 * hold
    await h.t.app.services.billing.credit({ userId: user.user.id, delta: start, reason: 'topup', ref: `test:${newId()}` })
    const conversations = []
    for (let i = 0; i < 100; i++) conversations.push(await createConversation(h.t, user.accessToken, { model: 'qwen-plus' }))

    let entered = 0
    let answered = 0
    let open!: () => void
    const gate = new Promise<void>((resolve) => (open = resolve))
    // Every turn either reached the upstream (and waits) or has been answered: all reservations are in.
    const check = () => {
      if (entered + answered >= 100) open()
    }
    wire(gate, () => {
      entered++
      check()
    })
    const upstreamBefore = chatCalls()

    let watching = true
    const samples: Array<{ balance: number; reserved: number }> = []
    const watcher = (async () => {
      while (watching) {
        samples.push(await funds(user.user.id))
        await sleep(2)
      }
    })()
    const responses = await Promise.all(
      conversations.map(async (c) => {
        const res = await turn(user.accessToken, c.id)
        answered++
        check()
        return res
      }),
    )
    watching = false
    await watcher

    const served = responses.filter((r) => r.statusCode === 200)
    const refused = responses.filter((r) => r.statusCode === 402)
    expect(served.length + refused.length).toBe(100)
    expect(served.length).toBeLessThanOrEqual(10)
    expect(served.length).toBe(10)
    for (const r of refused) expect(r.json().error.code).toBe('INSUFFICIENT_BALANCE')
    // Refused turns never reached the upstream and left no message behind.
    expect(chatCalls() - upstreamBefore).toBe(served.length)
    const messages = await k().selectFrom('messages').select('id').where('userId', '=', user.user.id).execute()
    expect(messages).toHaveLength(2 * served.length)

    expect(samples.length).toBeGreaterThan(0)
    for (const s of samples) {
      expect(s.balance).toBeGreaterThanOrEqual(0)
      expect(s.balance - s.reserved).toBeGreaterThanOrEqual(0)
    }
    const end = await funds(user.user.id)
    expect(end.reserved).toBe(0)
    const calls = await k().selectFrom('apiCalls').select(['cost', 'requestId']).where('userId', '=', user.user.id).execute()
    expect(calls).toHaveLength(served.length)
    const sumCosts = calls.reduce((s, c) => s + Number(c.cost), 0)
    expect(sumCosts).toBeGreaterThan(0)
    expect(start - end.balance).toBe(sumCosts)
    const usage = await k()
      .selectFrom('creditLedger')
      .select(['delta', 'ref'])
      .where('userId', '=', user.user.id)
      .where('reason', '=', 'usage')
      .execute()
    expect(usage.map((u) => u.ref).sort()).toEqual(calls.map((c) => `usage:${c.requestId}`).sort())
    expect(-usage.reduce((s, u) => s + Number(u.delta), 0)).toBe(sumCosts)
  })

  it('H3: an upstream failure before any token releases the whole hold and charges nothing', async () => {
    wire()
    const user = await registerUser(h.t)
    await h.t.app.services.billing.credit({ userId: user.user.id, delta: 1_000_000_000, reason: 'topup', ref: `test:${newId()}` })
    h.emu.inject({ type: 'http_error', status: 400 }, { times: 100 })
    const convo = await createConversation(h.t, user.accessToken, { model: 'qwen-plus' })
    const res = await turn(user.accessToken, convo.id)
    h.emu.clearFaults()
    expect(res.statusCode).toBe(422)
    expect(res.json().error.code).toBe('UPSTREAM_BAD_REQUEST')
    expect(await funds(user.user.id)).toEqual({ balance: 1_000_000_000, reserved: 0 })
    const holds = await k().selectFrom('creditReservations').select('status').where('userId', '=', user.user.id).execute()
    expect(holds.map((r) => r.status)).toEqual(['released'])
  })
})
