import { Migrator, MysqlAdapter, PostgresAdapter, type Kysely, type Migration, type MigrationProvider } from 'kysely'
import type { Dialect } from './kysely'
import type { Database } from './schema'
import * as m0001 from './migrations/0001_init'
import * as m0002 from './migrations/0002_search'
import * as m0003 from './migrations/0003_billing'
import * as m0004 from './migrations/0004_ledger_index'

/**
 * Migrations are listed here, not read from disk, so they survive bundling. Add new ones in order.
 * Each file exports `up` (and `down`); names sort in the order they run.
 */
const MIGRATIONS: Record<string, Migration> = {
  '0001_init': m0001,
  '0002_search': m0002,
  '0003_billing': m0003,
  '0004_ledger_index': m0004,
}

const provider: MigrationProvider = { getMigrations: () => Promise.resolve(MIGRATIONS) }

export function dialectFromKysely(db: Kysely<unknown>): Dialect {
  const adapter = db.getExecutor().adapter
  if (adapter instanceof MysqlAdapter) return 'mysql'
  if (adapter instanceof PostgresAdapter) return 'postgres'
  return 'sqlite'
}

/** Runs every pending migration; throws on the first failure. */
export async function migrateToLatest(db: Kysely<Database>): Promise<string[]> {
  const migrator = new Migrator({ db: db, provider })
  const { error, results } = await migrator.migrateToLatest()
  if (error) throw error instanceof Error ? error : new Error(JSON.stringify(error))
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}
