import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { refuseWrites } from '../../test/faults'
import { bearer, promote, registerUser } from '../auth/testing'
import { testDialects } from '../../test/services'
import { estimateTurnCost } from '../billing/chat-hooks'
import { estimatePromptTokens } from '../chat/tokens'
import { startGatewayHarness, type GatewayHarness } from './testing'

/**
 * Money through the gateway on every SQL dialect: two keys of one user cannot overspend together
 * (SECURITY H1), a client that leaves mid-stream is billed for what was generated (H5, M1), and a
 * database that stops answering means 503 and no upstream call (L1).
 */
describe.each(testDialects())('gateway billing on %s', (dialect) => {
  let h: GatewayHarness

  beforeAll(async () => {
    // Slow chunks: every admitted call is still streaming when the last reservation is attempted.
    h = await startGatewayHarness(dialect, { chunkDelayMs: 15 })
  })
  afterAll(async () => {
    await h?.close()
  })

  it('H1: 100 concurrent calls through two keys of one user, balance covering 10 → ≤10 admitted, never negative, initial − final = Σ usage', async () => {
    const owner = await h.account()
    const keys = [(await h.createKey(owner)).secret, (await h.createKey(owner)).secret]
    const content = 'Tell me something long about bridges'
    const model = await h.t.app.services.providers.getModel('qwen-plus')
    const hold = estimateTurnCost({ promptEstimate: estimatePromptTokens([{ text: content }]), model: { ...model, maxOutputTokens: 200 } })
    const initial = 10 * hold + hold - 1
    await h.setBalance(owner.user.id, initial)

    const results = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const res = await fetch(`${h.baseURL}/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${keys[i % 2]!}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'qwen-plus', messages: [{ role: 'user', content }], max_tokens: 200 }),
        })
        return { status: res.status, body: (await res.json()) as { error?: { code: string } } }
      }),
    )
    const ok = results.filter((r) => r.status === 200)
    const refused = results.filter((r) => r.status === 429)
    expect(ok.length).toBeGreaterThan(0)
    expect(ok.length).toBeLessThanOrEqual(10)
    expect(ok.length + refused.length).toBe(100)
    expect(refused.every((r) => r.body.error?.code === 'insufficient_quota')).toBe(true)

    // Batched usage written, the user's lease returned: every hold accounted for.
    await h.settle()
    const funds = await h.t.app.services.billing.getBalance(owner.user.id)
    expect(funds.reserved).toBe(0)
    expect(funds.balance).toBeGreaterThanOrEqual(0)
    const rows = await h.t.deps.db.kysely.selectFrom('apiCalls').select(['cost', 'source', 'apiKeyId']).where('userId', '=', owner.user.id).execute()
    // One row per admitted call, each from one of the two keys.
    expect(rows).toHaveLength(ok.length)
    expect(new Set(rows.map((r) => r.source))).toEqual(new Set(['api']))
    const spent = rows.reduce((sum, r) => sum + Number(r.cost), 0)
    expect(spent).toBeGreaterThan(0)
    expect(initial - funds.balance).toBe(spent)
  })

  it('H5: a client that leaves mid-stream stops the upstream and is billed for what was generated', async () => {
    const owner = await h.account()
    const { secret } = await h.createKey(owner)
    const before = (await h.t.app.services.billing.getBalance(owner.user.id)).balance
    const seen = h.emu.requests.length
    const controller = new AbortController()
    const res = await fetch(`${h.baseURL}/chat/completions`, {
      method: 'POST',
      signal: controller.signal,
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'qwen-plus', messages: [{ role: 'user', content: 'Tell me something long about bridges' }], stream: true }),
    })
    const reader = res.body!.getReader()
    let text = ''
    while ((text.match(/"content"/g) ?? []).length < 5) text += new TextDecoder().decode((await reader.read()).value)
    controller.abort()

    let row: { status: string; completionTokens: number; cost: number | string } | undefined
    for (let i = 0; i < 100 && !row; i++) {
      await new Promise((r) => setTimeout(r, 50))
      row = await h.t.deps.db.kysely.selectFrom('apiCalls').select(['status', 'completionTokens', 'cost']).where('userId', '=', owner.user.id).executeTakeFirst()
    }
    expect(row).toMatchObject({ status: 'interrupted' })
    expect(row!.completionTokens).toBeGreaterThanOrEqual(4)
    expect(Number(row!.cost)).toBeGreaterThan(0)
    await h.settle()
    const funds = await h.t.app.services.billing.getBalance(owner.user.id)
    expect(funds.reserved).toBe(0)
    expect(before - funds.balance).toBe(Number(row!.cost))
    const upstream = h.emu.requests.slice(seen).find((r) => r.path.endsWith('/chat/completions'))
    expect(upstream?.aborted).toBe(true)
  })

  it('L1: the database stops taking writes → 503 in OpenAI shape and no upstream call, then service resumes', async () => {
    const owner = await h.account()
    const { secret } = await h.createKey(owner)
    const call = () =>
      fetch(`${h.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'qwen-plus', messages: [{ role: 'user', content: 'hi' }] }),
      })
    expect((await call()).status).toBe(200)
    const restore = await refuseWrites(h.t.deps.db, 'credit_reservations')
    const seen = h.emu.requests.length
    try {
      // A lease is used without SQL only while SQL answered within the last second.
      await new Promise((r) => setTimeout(r, 1_100))
      const res = await call()
      expect(res.status).toBe(503)
      expect(((await res.json()) as { error: { type: string } }).error.type).toBeTruthy()
      expect(h.emu.requests.length).toBe(seen)
    } finally {
      await restore()
    }
    expect((await call()).status).toBe(200)
    await h.settle()
    expect(await h.t.deps.db.kysely.selectFrom('apiCalls').select('id').where('userId', '=', owner.user.id).execute()).toHaveLength(2)
  })

  it('an admin debit of everything left is not refused for money an idle /v1 lease holds', async () => {
    const owner = await h.account()
    const { secret } = await h.createKey(owner)
    await h.setBalance(owner.user.id, 1_000_000)
    const res = await fetch(`${h.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'qwen-plus', messages: [{ role: 'user', content: 'hi' }] }),
    })
    expect(res.status).toBe(200)
    let row: { cost: number | string } | undefined
    for (let i = 0; i < 100 && !row; i++) {
      await new Promise((r) => setTimeout(r, 20))
      row = await h.t.deps.db.kysely.selectFrom('apiCalls').select('cost').where('userId', '=', owner.user.id).executeTakeFirst()
    }
    const left = 1_000_000 - Number(row!.cost)
    // The call is charged; its lease still holds money (it goes back after 5 s idle).
    expect(h.t.app.services.leases.heldFor(owner.user.id)).toBeGreaterThan(0)
    expect((await h.t.app.services.billing.getBalance(owner.user.id)).available).toBeLessThan(left)

    const admin = await registerUser(h.t)
    await promote(h.t, admin.user.id)
    const debit = await h.t.inject({
      method: 'POST',
      url: `/api/admin/users/${owner.user.id}/balance`,
      headers: { ...bearer(admin.accessToken), 'content-type': 'application/json' },
      payload: JSON.stringify({ delta: -left, reason: 'closing the account' }),
    })
    expect(debit.statusCode).toBe(200)
    expect(h.t.app.services.leases.heldFor(owner.user.id)).toBe(0)
    expect(await h.t.app.services.billing.getBalance(owner.user.id)).toEqual({ balance: 0, reserved: 0, available: 0 })
  })
})
