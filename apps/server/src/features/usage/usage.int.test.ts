import { request as httpRequest } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestApp, type TestApp } from '../../test/app'
import { testDialects } from '../../test/services'
import { bearer, promote, registerUser, type TestAccount } from '../auth/testing'
import { apiCallRow, insertApiCalls } from './testing'

// A fixed "now" so days are predictable: today is 2026-11-20 (UTC), yesterday 2026-11-19.
const NOW = new Date('2026-11-20T12:00:00.000Z')
const at = (iso: string) => new Date(iso).toISOString()

describe.each(testDialects())('usage on %s', (dialect) => {
  let t: TestApp
  let alice: TestAccount
  const get = (who: TestAccount, url: string) => t.inject({ method: 'GET', url, headers: bearer(who.accessToken) })

  beforeAll(async () => {
    t = await createTestApp({ dialect, deps: { now: () => NOW } })
    alice = await registerUser(t)
  })
  afterAll(async () => {
    await t.close()
  })

  it('lists only the caller’s calls, newest first, page by page without gaps or repeats', async () => {
    const user = await registerUser(t)
    const rows = Array.from({ length: 25 }, (_, i) =>
      apiCallRow({ userId: user.user.id, createdAt: at(`2026-11-1${i % 3}T0${i % 9}:00:00.000Z`) }),
    )
    await insertApiCalls(t.deps.db, [...rows, apiCallRow({ userId: alice.user.id })])
    const seen: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const res = await get(user, `/api/usage/calls?limit=10${cursor ? `&cursor=${cursor}` : ''}`)
      expect(res.statusCode).toBe(200)
      const body = res.json()
      seen.push(...body.items.map((c: { id: string }) => c.id))
      cursor = body.nextCursor
      pages++
    } while (cursor)
    expect(pages).toBe(3)
    const expected = [...rows].sort((a, b) => (a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1))
    expect(seen).toEqual(expected.map((r) => r.id))
  })

  it('filters by time, model, status and source, and maps the row for its owner', async () => {
    const user = await registerUser(t)
    const id = user.user.id
    await insertApiCalls(t.deps.db, [
      apiCallRow({ userId: id, createdAt: at('2026-11-10T10:00:00Z'), model: 'qwen-max' }),
      apiCallRow({ userId: id, createdAt: at('2026-11-11T10:00:00Z'), status: 'error', errorCode: 'UPSTREAM_TIMEOUT', httpStatus: 504 }),
      apiCallRow({ userId: id, createdAt: at('2026-11-12T10:00:00Z'), source: 'api', apiKeyId: 'key_1', usageEstimated: 1 }),
      apiCallRow({ userId: id, createdAt: at('2026-11-13T10:00:00Z'), status: 'interrupted' }),
    ])
    const ids = async (query: string) => (await get(user, `/api/usage/calls?${query}`)).json().items.map((c: { createdAt: string }) => c.createdAt.slice(0, 10))
    expect(await ids('from=2026-11-11&to=2026-11-12')).toEqual(['2026-11-12', '2026-11-11'])
    expect(await ids('from=2026-11-11T10:00:00.000Z&to=2026-11-12T10:00:00.000Z')).toEqual(['2026-11-11'])
    expect(await ids('model=qwen-max')).toEqual(['2026-11-10'])
    expect(await ids('status=error')).toEqual(['2026-11-11'])
    expect(await ids('source=api')).toEqual(['2026-11-12'])
    const [call] = (await get(user, '/api/usage/calls?source=api')).json().items
    expect(call).toMatchObject({ source: 'api', apiKeyId: 'key_1', usageEstimated: true, promptTokens: 10, cost: 100 })
    expect(call).not.toHaveProperty('channelId')
    expect(call).not.toHaveProperty('userId')
    expect((await get(user, '/api/usage/calls?status=bogus')).statusCode).toBe(400)
    expect((await get(user, '/api/usage/calls?from=2026-02-31')).statusCode).toBe(400)
    expect((await get(user, '/api/usage/calls?cursor=not-a-cursor')).json().error.code).toBe('VALIDATION_FAILED')
  })

  it('another user cannot see my calls, in the list, the export or the statistics (C1)', async () => {
    const owner = await registerUser(t)
    const intruder = await registerUser(t)
    const row = apiCallRow({ userId: owner.user.id, createdAt: at('2026-11-20T08:00:00Z'), model: 'secret-model' })
    await insertApiCalls(t.deps.db, [row])
    expect((await get(owner, '/api/usage/calls')).json().items.map((c: { id: string }) => c.id)).toEqual([row.id])
    expect((await get(intruder, '/api/usage/calls')).json().items).toEqual([])
    const csv = await get(intruder, '/api/usage/calls.csv')
    expect(csv.statusCode).toBe(200)
    expect(csv.body).not.toContain('secret-model')
    expect(csv.body.trim().split('\r\n')).toHaveLength(1)
    const stats = (await get(intruder, '/api/usage/stats?groupBy=model')).json()
    expect(stats.totals.calls).toBe(0)
    expect(stats.series).toEqual([])
    // A cursor made from the owner's row does not reveal it either.
    const cursor = Buffer.from(JSON.stringify(['2026-11-21T00:00:00.000Z', 'z'])).toString('base64url')
    expect((await get(intruder, `/api/usage/calls?cursor=${cursor}`)).json().items).toEqual([])
    expect((await t.inject({ method: 'GET', url: '/api/usage/calls' })).statusCode).toBe(401)
  })

  it('sums statistics by day and by model from the roll-up plus today’s live calls', async () => {
    const user = await registerUser(t)
    const id = user.user.id
    await insertApiCalls(t.deps.db, [
      apiCallRow({ userId: id, createdAt: at('2026-11-15T01:00:00Z'), model: 'qwen-plus', promptTokens: 100, completionTokens: 50, cost: 1000 }),
      apiCallRow({ userId: id, createdAt: at('2026-11-15T23:59:59.999Z'), model: 'kimi-k2', promptTokens: 1, completionTokens: 2, cost: 5, images: 0 }),
      apiCallRow({ userId: id, createdAt: at('2026-11-19T10:00:00Z'), model: 'wanx', promptTokens: 0, completionTokens: 0, images: 2, cost: 400000 }),
    ])
    await t.app.services.usage.rollup(7)
    // Written after the roll-up: statistics must still count it.
    await insertApiCalls(t.deps.db, [
      apiCallRow({ userId: id, createdAt: at('2026-11-20T11:00:00Z'), model: 'qwen-plus', promptTokens: 7, completionTokens: 3, cost: 70 }),
    ])
    const byDay = (await get(user, '/api/usage/stats?from=2026-11-14&to=2026-11-20')).json()
    expect(byDay.totals).toEqual({ calls: 4, promptTokens: 108, completionTokens: 55, images: 2, cost: 401075 })
    expect(byDay.series.map((p: { key: string }) => p.key)).toEqual([
      '2026-11-14', '2026-11-15', '2026-11-16', '2026-11-17', '2026-11-18', '2026-11-19', '2026-11-20',
    ])
    expect(byDay.series[1]).toEqual({ key: '2026-11-15', calls: 2, promptTokens: 101, completionTokens: 52, images: 0, cost: 1005 })
    expect(byDay.series[0].calls).toBe(0)
    expect(byDay.series[6].cost).toBe(70)

    const byModel = (await get(user, '/api/usage/stats?groupBy=model&from=2026-11-01')).json()
    expect(byModel.series).toEqual([
      { key: 'wanx', calls: 1, promptTokens: 0, completionTokens: 0, images: 2, cost: 400000 },
      { key: 'qwen-plus', calls: 2, promptTokens: 107, completionTokens: 53, images: 0, cost: 1070 },
      { key: 'kimi-k2', calls: 1, promptTokens: 1, completionTokens: 2, images: 0, cost: 5 },
    ])
    // Default range: the last 30 days up to today.
    const dflt = (await get(user, '/api/usage/stats')).json()
    expect(dflt.from).toBe('2026-10-22')
    expect(dflt.to).toBe('2026-11-20')
    expect(dflt.series).toHaveLength(30)
    expect((await get(user, '/api/usage/stats?from=2020-01-01')).statusCode).toBe(400)
    expect((await get(user, '/api/usage/stats?from=2026-11-20&to=2026-11-19')).statusCode).toBe(400)
  })

  it('filters statistics by model, status and source: the sums of exactly the matching calls (C1)', async () => {
    const user = await registerUser(t)
    const other = await registerUser(t)
    const mine = [
      apiCallRow({ userId: user.user.id, createdAt: at('2026-11-12T03:00:00Z'), model: 'qwen-max', promptTokens: 11, completionTokens: 21, cost: 1001 }),
      apiCallRow({ userId: user.user.id, createdAt: at('2026-11-12T04:00:00Z'), model: 'qwen-max', status: 'error', promptTokens: 5, completionTokens: 0, cost: 0 }),
      apiCallRow({ userId: user.user.id, createdAt: at('2026-11-13T05:00:00Z'), model: 'kimi-k2', source: 'api', apiKeyId: 'key_1', promptTokens: 300, completionTokens: 40, cost: 7007 }),
      apiCallRow({ userId: user.user.id, createdAt: at('2026-11-13T23:59:59.999Z'), model: 'qwen-max', source: 'api', status: 'interrupted', promptTokens: 13, completionTokens: 3, cost: 33 }),
      apiCallRow({ userId: user.user.id, createdAt: at('2026-11-19T10:00:00Z'), model: 'wanx', source: 'api', images: 3, promptTokens: 0, completionTokens: 0, cost: 600000 }),
      apiCallRow({ userId: user.user.id, createdAt: at('2026-11-20T09:00:00Z'), model: 'kimi-k2', status: 'error', promptTokens: 2, completionTokens: 0, cost: 0 }),
      apiCallRow({ userId: user.user.id, createdAt: at('2026-11-20T10:00:00Z'), model: 'qwen-max', promptTokens: 17, completionTokens: 19, cost: 4242 }),
      // Outside the range asked for below: never counted.
      apiCallRow({ userId: user.user.id, createdAt: at('2026-11-09T23:59:59.999Z'), model: 'qwen-max', cost: 99 }),
    ]
    // The same kinds of calls by someone else, on the same days: never counted either.
    const theirs = mine.map(({ id: _id, requestId: _requestId, ...r }) =>
      apiCallRow({ ...r, userId: other.user.id, cost: r.cost + 1 }),
    )
    await insertApiCalls(t.deps.db, [...mine, ...theirs])
    await t.app.services.usage.rollup(14)

    const range = 'from=2026-11-10&to=2026-11-20'
    const inRange = mine.filter((r) => r.createdAt >= '2026-11-10')
    const sum = (rows: typeof mine) => ({
      calls: rows.length,
      promptTokens: rows.reduce((n, r) => n + r.promptTokens, 0),
      completionTokens: rows.reduce((n, r) => n + r.completionTokens, 0),
      images: rows.reduce((n, r) => n + r.images, 0),
      cost: rows.reduce((n, r) => n + r.cost, 0),
    })
    const cases: Array<[string, (r: (typeof mine)[number]) => boolean]> = [
      ['status=ok', (r) => r.status === 'ok'],
      ['status=error', (r) => r.status === 'error'],
      ['source=api', (r) => r.source === 'api'],
      ['source=web&status=ok', (r) => r.source === 'web' && r.status === 'ok'],
      ['model=qwen-max', (r) => r.model === 'qwen-max'],
      ['model=qwen-max&source=api', (r) => r.model === 'qwen-max' && r.source === 'api'],
      ['model=kimi-k2&status=error&source=web', (r) => r.model === 'kimi-k2' && r.status === 'error' && r.source === 'web'],
      ['model=nobody-uses-this', () => false],
    ]
    for (const [filter, match] of cases) {
      const expected = inRange.filter(match)
      const byDay = await get(user, `/api/usage/stats?${range}&${filter}`)
      expect(byDay.statusCode, filter).toBe(200)
      const body = byDay.json()
      expect(body.totals, filter).toEqual(sum(expected))
      // Every day of the range, each the sum of that day's matching calls.
      expect(body.series).toHaveLength(11)
      for (const point of body.series as Array<{ key: string }>) {
        expect(point, `${filter} ${point.key}`).toEqual({ key: point.key, ...sum(expected.filter((r) => r.createdAt.startsWith(point.key))) })
      }
      const byModel = (await get(user, `/api/usage/stats?${range}&groupBy=model&${filter}`)).json()
      expect(byModel.totals, filter).toEqual(sum(expected))
      const models = [...new Set(expected.map((r) => r.model))]
      expect(byModel.series.map((p: { key: string }) => p.key).sort(), filter).toEqual(models.sort())
      for (const m of models) {
        expect(byModel.series.find((p: { key: string }) => p.key === m), `${filter} ${m}`).toEqual({ key: m, ...sum(expected.filter((r) => r.model === m)) })
      }
    }

    // The call list with the same filters holds exactly the calls the totals count.
    const listed = (await get(user, `/api/usage/calls?${range}&source=api&limit=100`)).json().items
    const stats = (await get(user, `/api/usage/stats?${range}&source=api`)).json()
    expect(stats.totals.calls).toBe(listed.length)
    expect(stats.totals.cost).toBe(listed.reduce((n: number, c: { cost: number }) => n + c.cost, 0))

    // The other user, filtered the same way, sees only their own calls.
    const theirStats = (await get(other, `/api/usage/stats?${range}&status=ok`)).json()
    expect(theirStats.totals).toEqual(sum(theirs.filter((r) => r.createdAt >= '2026-11-10' && r.status === 'ok')))

    // The filters are validated like the call list's.
    for (const bad of ['status=bogus', 'source=cli', 'model=', `model=${'m'.repeat(101)}`, 'userId=' + other.user.id]) {
      const res = await get(user, `/api/usage/stats?${range}&${bad}`)
      expect(res.statusCode, bad).toBe(400)
      expect(res.json().error.code).toBe('VALIDATION_FAILED')
    }
  })

  it('rolls up idempotently: running it again changes nothing', async () => {
    const user = await registerUser(t)
    await insertApiCalls(t.deps.db, [
      apiCallRow({ userId: user.user.id, createdAt: at('2026-11-20T01:00:00Z'), cost: 10 }),
      apiCallRow({ userId: user.user.id, createdAt: at('2026-11-20T02:00:00Z'), cost: 20 }),
    ])
    const daily = () =>
      t.deps.db.kysely.selectFrom('usageDaily').selectAll().where('userId', '=', user.user.id).execute()
    await t.app.services.usage.rollup()
    const first = await daily()
    await t.app.services.usage.rollup()
    await t.app.services.usage.rollup()
    const again = await daily()
    expect(again).toEqual(first)
    expect(first).toHaveLength(1)
    expect(first[0]).toMatchObject({ day: '2026-11-20', model: 'qwen-plus' })
    expect(Number(first[0]!.calls)).toBe(2)
    expect(Number(first[0]!.cost)).toBe(30)
  })

  it('purges calls past the retention period in batches and keeps the roll-up', async () => {
    const admin = await registerUser(t)
    await promote(t, admin.user.id)
    const patch = await t.inject({
      method: 'PATCH',
      url: '/api/admin/settings',
      headers: bearer(admin.accessToken),
      payload: { logRetentionDays: 30 },
    })
    expect(patch.statusCode).toBe(200)
    const user = await registerUser(t)
    const old = Array.from({ length: 1500 }, () => apiCallRow({ userId: user.user.id, createdAt: at('2026-09-01T00:00:00Z'), cost: 1 }))
    const kept = apiCallRow({ userId: user.user.id, createdAt: at('2026-10-25T00:00:00Z') })
    await insertApiCalls(t.deps.db, [...old, kept])
    // The roll-up of those days was made while they were recent.
    await t.deps.db.kysely
      .insertInto('usageDaily')
      .values({ day: '2026-09-01', userId: user.user.id, model: 'qwen-plus', calls: 1500, promptTokens: 0, completionTokens: 0, images: 0, cost: 1500 })
      .execute()

    expect(await t.app.services.usage.purgeExpired()).toBeGreaterThanOrEqual(1500)
    const left = await t.deps.db.kysely.selectFrom('apiCalls').select('id').where('userId', '=', user.user.id).execute()
    expect(left.map((r) => r.id)).toEqual([kept.id])
    const stats = (await get(user, '/api/usage/stats?from=2026-09-01&to=2026-09-01')).json()
    expect(stats.totals.calls).toBe(1500)
    await t.inject({ method: 'PATCH', url: '/api/admin/settings', headers: bearer(admin.accessToken), payload: { logRetentionDays: 180 } })
  })

  it('streams a CSV export of thousands of rows: chunked, BOM first, complete, formula-safe', async () => {
    const user = await registerUser(t)
    const rows = Array.from({ length: 5000 }, (_, i) =>
      apiCallRow({ userId: user.user.id, createdAt: new Date(Date.parse('2026-11-01T00:00:00Z') + i * 1000).toISOString() }),
    )
    rows[0] = { ...rows[0]!, model: '=HYPERLINK("http://evil.example","点我")', errorCode: '-2+3', status: 'error' }
    rows[1] = { ...rows[1]!, model: '通义千问-plus' }
    await insertApiCalls(t.deps.db, rows)

    const address = await t.app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = new URL(address)
    const res = await new Promise<{ headers: Record<string, string | string[] | undefined>; chunks: Buffer[] }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/api/usage/calls.csv?from=2026-11-01', headers: bearer(user.accessToken) }, (r) => {
        const chunks: Buffer[] = []
        r.on('data', (c: Buffer) => chunks.push(c))
        r.on('end', () => resolve({ headers: r.headers, chunks }))
        r.on('error', reject)
      })
      req.on('error', reject)
      req.end()
    })
    // Streamed: no length known up front, sent in pieces rather than one buffer.
    expect(res.headers['transfer-encoding']).toBe('chunked')
    expect(res.headers['content-length']).toBeUndefined()
    expect(res.chunks.length).toBeGreaterThan(1)
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8')
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="qiao-usage-20261120\.csv"$/)

    const body = Buffer.concat(res.chunks)
    expect([...body.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf])
    const lines = body.toString('utf8').slice(1).trimEnd().split('\r\n')
    expect(lines).toHaveLength(5001)
    expect(lines[0]).toMatch(/^created_at,request_id,source,/)
    const requestIds = new Set(lines.slice(1).map((l) => l.split(',')[1]))
    expect(requestIds.size).toBe(5000)
    const evil = lines.find((l) => l.includes(rows[0]!.requestId))!
    expect(evil).toContain(`"'=HYPERLINK(""http://evil.example"",""点我"")"`)
    expect(evil).toContain(",'-2+3,")
    expect(lines.find((l) => l.includes(rows[1]!.requestId))).toContain(',通义千问-plus,')
  })
})
