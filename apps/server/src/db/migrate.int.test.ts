import { sql } from 'kysely'
import { afterAll, describe, expect, it } from 'vitest'
import { newId } from '../ids'
import { createTestDb, type TestDb } from '../test/databases'
import { testDialects } from '../test/services'
import { affectedRows, isUniqueViolation } from './kysely'

describe.each(testDialects())('database layer on %s', (dialect) => {
  const dbs: TestDb[] = []
  afterAll(async () => {
    await Promise.all(dbs.map((d) => d.drop()))
  })

  it('creates every table of the data model', async () => {
    const t = await createTestDb(dialect)
    dbs.push(t)
    const tables = (await t.db.kysely.introspection.getTables()).map((x) => x.name)
    for (const name of [
      'users', 'refresh_tokens', 'api_keys', 'provider_channels', 'provider_keys', 'models',
      'conversations', 'messages', 'api_calls', 'credit_ledger', 'credit_reservations', 'orders',
      'redeem_codes', 'image_tasks', 'files', 'audit_logs', 'settings', 'usage_daily',
    ]) {
      expect(tables).toContain(name)
    }
  })

  it('round-trips money as exact integers and rejects a duplicate ledger reference', async () => {
    const t = await createTestDb(dialect)
    dbs.push(t)
    const k = t.db.kysely
    const now = new Date().toISOString()
    const userId = newId()
    const big = 9_007_199_254_740 // ~9 billion yuan in micro-yuan
    await k
      .insertInto('users')
      .values({
        id: userId, email: `${userId}@example.com`, username: null, phone: null, displayName: '张三',
        passwordHash: 'x', role: 'user', status: 'active', tokenVersion: 0, failedLoginCount: 0,
        lockedUntil: null, balance: big, preferences: '{}', createdAt: now, updatedAt: now,
      })
      .execute()
    const row = await k.selectFrom('users').select(['balance', 'displayName']).where('id', '=', userId).executeTakeFirstOrThrow()
    expect(row.balance).toBe(big)
    expect(typeof row.balance).toBe('number')
    expect(row.displayName).toBe('张三')

    const entry = { userId, delta: 5, balanceAfter: big + 5, reason: 'admin_adjust' as const, ref: 'test:1', note: null, actorId: null, createdAt: now }
    await k.insertInto('creditLedger').values({ id: newId(), ...entry }).execute()
    const dup = await k.insertInto('creditLedger').values({ id: newId(), ...entry }).execute().catch((e: unknown) => e)
    expect(isUniqueViolation(dup)).toBe(true)

    // A conditional update that cannot overdraw: the second debit of the whole balance matches no row.
    const debit = () =>
      k.updateTable('users').set({ balance: sql`balance - ${big}` }).where('id', '=', userId).where('balance', '>=', big).executeTakeFirst()
    expect(affectedRows(await debit())).toBe(1)
    expect(affectedRows(await debit())).toBe(0)
    const sum = await k.selectFrom('creditLedger').select((eb) => eb.fn.sum<number>('delta').as('total')).executeTakeFirstOrThrow()
    expect(Number(sum.total)).toBe(5)
  })

  it('indexes the ledger per user once, by (user_id, id), the order the ledger page reads', async () => {
    const t = await createTestDb(dialect)
    dbs.push(t)
    const names = await ledgerIndexes(t)
    expect(names).toContain('credit_ledger_user_id_idx')
    expect(names).not.toContain('credit_ledger_user_idx')
  })
})

/** The names of credit_ledger's indexes, as each engine lists them. */
async function ledgerIndexes(t: TestDb): Promise<string[]> {
  const k = t.db.kysely
  if (t.db.dialect === 'sqlite') {
    const { rows } = await sql<{ name: string }>`pragma index_list(credit_ledger)`.execute(k)
    return rows.map((r) => r.name)
  }
  if (t.db.dialect === 'mysql') {
    const { rows } = await sql<{ name: string }>`select index_name as name from information_schema.statistics where table_schema = database() and table_name = 'credit_ledger'`.execute(k)
    return rows.map((r) => r.name)
  }
  const { rows } = await sql<{ indexname: string }>`select indexname from pg_indexes where tablename = 'credit_ledger'`.execute(k)
  return rows.map((r) => r.indexname)
}
