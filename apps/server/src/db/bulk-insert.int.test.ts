import type { Insertable, Transaction } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { API_CALL_COLUMNS } from '../features/billing/billing.repo'
import { newId } from '../ids'
import { createTestDb, type TestDb } from '../test/databases'
import { testDialects } from '../test/services'
import { bulkInserter } from './bulk-insert'
import { isUniqueViolation } from './kysely'
import type { ApiCallsTable, Database } from './schema'

const COLUMNS = API_CALL_COLUMNS

function row(i: number, userId: string): Insertable<ApiCallsTable> {
  return {
    id: newId(),
    requestId: `api:${newId()}`,
    userId,
    // Every other row leaves the nullable columns out: they must come back NULL, not shifted.
    ...(i % 2 === 0 ? { apiKeyId: `key-${i}`, channelId: `通道-${i}`, errorCode: null, upstreamRequestId: `上游-${i}` } : {}),
    source: 'api',
    provider: 'dashscope',
    model: 'qwen-plus',
    endpoint: 'chat',
    status: i % 3 === 0 ? 'error' : 'ok',
    httpStatus: i % 3 === 0 ? 500 : 200,
    promptTokens: i,
    completionTokens: 2 * i,
    cachedTokens: 0,
    reasoningTokens: i % 5,
    images: 0,
    usageEstimated: i % 2 === 0 ? 0 : 1,
    cost: 1_000_000_000 + i,
    latencyMs: i % 4 === 0 ? null : i + 1,
    ttftMs: null,
    createdAt: new Date(Date.UTC(2026, 11, 3, 0, 0, i % 60)).toISOString(),
  }
}

/** The transaction, with `onBuild` called for every query it starts building with insertInto. */
function counting(trx: Transaction<Database>, onBuild: () => void): Transaction<Database> {
  return new Proxy(trx, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key, target)
      if (typeof value !== 'function') return value
      // Kysely's classes keep #private fields: their methods run on the transaction itself.
      const method = value as (...a: unknown[]) => unknown
      return (...args: unknown[]) => {
        if (key === 'insertInto') onBuild()
        return method.apply(target, args)
      }
    },
  })
}

describe.each(testDialects())('bulk inserts on %s', (dialect) => {
  let t: TestDb
  beforeAll(async () => {
    t = await createTestDb(dialect)
  })
  afterAll(async () => t.drop())

  it('writes every row exactly as given, in chunks of any size, compiling each chunk size once', async () => {
    const insert = bulkInserter('apiCalls', COLUMNS)
    const userId = newId()
    // 0, 1, 50 (32 + 16 + 2) and 300 rows (128 + 128 + 32 + 8 + 4), twice: the second round
    // runs on statements compiled in the first.
    const sizes = [0, 1, 50, 300, 50, 300]
    const written: Array<Insertable<ApiCallsTable>> = []
    // The inserter builds a statement through the executor's query builder only to compile it.
    const compiles: number[] = []
    for (const n of sizes) {
      const rows = Array.from({ length: n }, (_, i) => row(i, userId))
      let built = 0
      await t.db.kysely.transaction().execute((trx) => insert(counting(trx, () => built++), rows))
      compiles.push(built)
      written.push(...rows)
    }
    // Chunk sizes 1; 32, 16, 2; 128, 8, 4 are compiled once each, then only run.
    expect(compiles).toEqual([0, 1, 3, 3, 0, 0])
    const read = await t.db.kysely.selectFrom('apiCalls').selectAll().where('userId', '=', userId).execute()
    expect(read).toHaveLength(701)
    const byId = new Map(read.map((r) => [r.id, r]))
    for (const w of written) {
      const r = byId.get(w.id)!
      for (const c of COLUMNS) expect([c, r[c] ?? null]).toEqual([c, w[c] ?? null])
    }
  })

  it('is part of the transaction it runs in: a failing row rolls the whole batch back', async () => {
    const insert = bulkInserter('apiCalls', COLUMNS)
    const userId = newId()
    const rows = Array.from({ length: 40 }, (_, i) => row(i, userId))
    rows[37] = { ...rows[37]!, requestId: rows[3]!.requestId }
    const err = await t.db.kysely
      .transaction()
      .execute((trx) => insert(trx, rows))
      .catch((e: unknown) => e)
    expect(isUniqueViolation(err)).toBe(true)
    const left = await t.db.kysely.selectFrom('apiCalls').select('id').where('userId', '=', userId).execute()
    expect(left).toEqual([])
  })
})
