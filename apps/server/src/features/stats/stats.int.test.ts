import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { newId } from '../../ids'
import { createTestApp, type TestApp } from '../../test/app'
import { testDialects } from '../../test/services'
import { bearer, promote, registerUser, type TestAccount } from '../auth/testing'
import { apiCallRow, insertApiCalls } from '../usage/testing'

const NOW = new Date('2026-11-20T12:00:00.000Z')

describe.each(testDialects())('admin platform statistics on %s', (dialect) => {
  let t: TestApp
  let admin: TestAccount
  let alice: TestAccount
  let bob: TestAccount
  const channelA = newId()
  const channelB = newId()
  const stats = (query: string, who = admin) =>
    t.inject({ method: 'GET', url: `/api/admin/stats?${query}`, headers: bearer(who.accessToken) })

  beforeAll(async () => {
    t = await createTestApp({ dialect, deps: { now: () => NOW } })
    ;[admin, alice, bob] = await Promise.all([registerUser(t), registerUser(t), registerUser(t)])
    await promote(t, admin.user.id)
    const ts = NOW.toISOString()
    const channel = (id: string, name: string) => ({
      id, type: 'dashscope' as const, name, baseUrl: 'https://dashscope.example', models: '[]', weight: 1, priority: 0,
      enabled: 1 as const, emulated: 0 as const, source: 'admin' as const, options: '{}', lastError: null, createdAt: ts, updatedAt: ts,
    })
    await t.deps.db.kysely.insertInto('providerChannels').values([channel(channelA, '百炼 主'), channel(channelB, 'backup')]).execute()
    const day = (d: string, h: number) => `2026-11-${d}T${String(h).padStart(2, '0')}:00:00.000Z`
    await insertApiCalls(t.deps.db, [
      // Channel A: 10 calls, latencies 100..1000, 2 errors.
      ...Array.from({ length: 10 }, (_, i) =>
        apiCallRow({ userId: alice.user.id, channelId: channelA, createdAt: day('18', i), latencyMs: (i + 1) * 100, status: i < 2 ? 'error' : 'ok', cost: 1000 }),
      ),
      // Channel B: 4 calls by bob, one without a latency.
      ...Array.from({ length: 4 }, (_, i) =>
        apiCallRow({ userId: bob.user.id, channelId: channelB, model: 'kimi-k2', createdAt: day('20', i), latencyMs: i === 3 ? null : 50, cost: 10 }),
      ),
      // No channel reached (failed before routing).
      apiCallRow({ userId: bob.user.id, channelId: null, createdAt: day('19', 1), status: 'error', cost: 0, latencyMs: null }),
    ])
    await t.app.services.usage.rollup(7)
  })
  afterAll(async () => {
    await t.close()
  })

  it('answers platform totals and cost by day', async () => {
    const res = await stats('from=2026-11-17&to=2026-11-20')
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(body.totals).toEqual({ calls: 15, promptTokens: 150, completionTokens: 300, images: 0, cost: 10040, errors: 3 })
    expect(body.series.map((p: { key: string; cost: number }) => [p.key, p.cost])).toEqual([
      ['2026-11-17', 0], ['2026-11-18', 10000], ['2026-11-19', 0], ['2026-11-20', 40],
    ])
  })

  it('breaks calls down by channel with error rate and p50/p95 latency', async () => {
    const body = (await stats('groupBy=channel&from=2026-11-17&to=2026-11-20')).json()
    const [a, b, none] = body.series
    expect(a).toMatchObject({ key: channelA, label: '百炼 主', calls: 10, errors: 2, errorRate: 0.2, latencyP50Ms: 500, latencyP95Ms: 1000 })
    expect(b).toMatchObject({ key: channelB, label: 'backup', calls: 4, errors: 0, errorRate: 0, latencyP50Ms: 50, latencyP95Ms: 50 })
    expect(none).toMatchObject({ key: 'none', label: null, calls: 1, errors: 1, errorRate: 1, latencyP50Ms: null })
  })

  it('breaks cost down by user (with emails) and by model', async () => {
    const byUser = (await stats('groupBy=user&from=2026-11-17&to=2026-11-20')).json()
    expect(byUser.series.map((p: { label: string; cost: number }) => [p.label, p.cost])).toEqual([
      [alice.email, 10000],
      [bob.email, 40],
    ])
    const byModel = (await stats('groupBy=model&from=2026-11-17&to=2026-11-20')).json()
    expect(byModel.series.map((p: { key: string; calls: number }) => [p.key, p.calls])).toEqual([
      ['qwen-plus', 11],
      ['kimi-k2', 4],
    ])
  })

  it('is for admins only', async () => {
    const res = await stats('groupBy=user', alice)
    expect(res.statusCode).toBe(403)
    expect(res.json().error.code).toBe('FORBIDDEN')
    expect((await t.inject({ method: 'GET', url: '/api/admin/stats' })).statusCode).toBe(401)
    expect((await stats('groupBy=password')).statusCode).toBe(400)
  })
})
