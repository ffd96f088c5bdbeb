import { ConfigError, loadConfig } from '../config'
import { openDb } from './kysely'
import { migrateToLatest } from './migrate'

/** `npm run migrate -w @qiao/server`: applies pending migrations to DATABASE_URL and exits. */
async function run(): Promise<void> {
  const config = loadConfig()
  const db = openDb({ url: config.DATABASE_URL, dataDir: config.QIAO_DATA_DIR })
  try {
    const applied = await migrateToLatest(db.kysely)
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date')
  } finally {
    await db.close()
  }
}

run().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err)
  process.exit(1)
})
