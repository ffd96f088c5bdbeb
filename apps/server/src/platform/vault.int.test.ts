import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MasterKeySet } from '../context'
import { addChannel } from '../features/providers/testing'
import { createTestDb, type TestDb } from '../test/databases'
import { testDialects } from '../test/services'
import { masterKeyId } from './keys'
import { createVault, providerKeyAad, reencryptAll } from './vault'

const run = promisify(execFile)
const serverDir = join(import.meta.dirname, '..', '..')

function keySet(current: Buffer, ...old: Buffer[]): MasterKeySet {
  return { current: { id: masterKeyId(current), key: current }, old: old.map((key) => ({ id: masterKeyId(key), key })) }
}

describe.each(testDialects())('master-key rotation on %s (J2)', (dialect) => {
  let db: TestDb
  const oldKey = randomBytes(32)
  const newKey = randomBytes(32)
  beforeAll(async () => {
    db = await createTestDb(dialect)
  })
  afterAll(async () => {
    await db.drop()
  })

  it('re-encrypts every row in batches; afterwards no row references the old key', async () => {
    const secrets = Array.from({ length: 7 }, (_, i) => `sk-rotation-${i}-${randomBytes(6).toString('hex')}`)
    await addChannel(db.db, keySet(oldKey), { baseUrl: 'https://example.com', models: ['qwen-plus'], keys: secrets })
    const report = await reencryptAll(db.db, keySet(newKey, oldKey), { batchSize: 3 })
    expect(report).toEqual({ total: 7, reencrypted: 7, alreadyCurrent: 0, failed: 0 })
    const rows = await db.db.kysely.selectFrom('providerKeys').selectAll().orderBy('id').execute()
    expect(rows.every((r) => r.masterKeyId === masterKeyId(newKey))).toBe(true)
    const onlyNew = createVault(keySet(newKey))
    expect(rows.map((r) => onlyNew.decrypt(r, providerKeyAad(r.id)))).toEqual(secrets)
    // Running it again is a no-op.
    expect(await reencryptAll(db.db, keySet(newKey, oldKey))).toMatchObject({ reencrypted: 0, alreadyCurrent: 7 })
  })

  it('works as the `rotate-master-key` command against the configured database', async () => {
    await db.db.kysely.deleteFrom('providerKeys').execute()
    const third = randomBytes(32)
    await addChannel(db.db, keySet(newKey), { baseUrl: 'https://example.com', models: ['qwen-plus'], keys: ['sk-cli-rotation-000000001', 'sk-cli-rotation-000000002'] })
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/providers/vault-rotate-cli.ts'], {
      cwd: serverDir,
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'test',
        DATABASE_URL: db.url,
        QIAO_DATA_DIR: db.dataDir,
        QIAO_MASTER_KEY: third.toString('base64'),
        QIAO_MASTER_KEYS_OLD: newKey.toString('base64'),
      },
    })
    expect(stdout).toContain('re-encrypted: 2')
    expect(stdout).toContain('remaining under old keys: 0')
    const rows = await db.db.kysely.selectFrom('providerKeys').select('masterKeyId').execute()
    expect(rows.map((r) => r.masterKeyId)).toEqual([masterKeyId(third), masterKeyId(third)])
  })
})
