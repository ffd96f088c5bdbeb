import { ConfigError, loadConfig } from '../config'
import { openDb } from '../db/kysely'
import { loadMasterKeys } from '../platform/keys'
import { createLogger } from '../platform/logger'
import { reencryptAll } from '../platform/vault'

/**
 * `npm run rotate-master-key -w @qiao/server`: re-encrypts every provider key under
 * QIAO_MASTER_KEY. Safe while the app runs, as long as every running instance already has the
 * new key as QIAO_MASTER_KEY and the previous one in QIAO_MASTER_KEYS_OLD:
 *   1. deploy with QIAO_MASTER_KEY=<new>, QIAO_MASTER_KEYS_OLD=<old> (both decrypt, new encrypts);
 *   2. run this command (rows are rewritten one by one, each only if unchanged meanwhile);
 *   3. once it reports `remaining under old keys: 0`, drop the old key from QIAO_MASTER_KEYS_OLD.
 */
async function run(): Promise<void> {
  const config = loadConfig()
  const logger = createLogger('warn')
  const keys = loadMasterKeys(config, logger)
  const db = openDb({ url: config.DATABASE_URL, dataDir: config.QIAO_DATA_DIR })
  try {
    const report = await reencryptAll(db, keys, { batchSize: 200 })
    const stale = await db.kysely
      .selectFrom('providerKeys')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('masterKeyId', '!=', keys.current.id)
      .executeTakeFirstOrThrow()
    console.log(
      [
        `current master key: ${keys.current.id}`,
        `keys checked: ${report.total}`,
        `re-encrypted: ${report.reencrypted}`,
        `already current: ${report.alreadyCurrent}`,
        `undecryptable (disabled): ${report.failed}`,
        `remaining under old keys: ${Number(stale.n)}`,
      ].join('\n'),
    )
    if (report.failed > 0) process.exitCode = 2
  } finally {
    await db.close()
  }
}

run().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err)
  process.exit(1)
})
