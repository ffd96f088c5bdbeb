import { mkdirSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import SQLite from 'better-sqlite3'
import { CamelCasePlugin, Kysely, MysqlDialect, PostgresDialect, SqliteDialect, sql } from 'kysely'
import type { Database } from './schema'

export type Dialect = 'sqlite' | 'mysql' | 'postgres'

export interface Db {
  readonly kysely: Kysely<Database>
  readonly dialect: Dialect
  /** Cheap round trip for /readyz. */
  ping(): Promise<void>
  close(): Promise<void>
}

export function dialectOf(url: string | undefined): Dialect {
  if (!url || url.startsWith('sqlite:')) return 'sqlite'
  if (url.startsWith('mysql:') || url.startsWith('mariadb:')) return 'mysql'
  return 'postgres'
}

/**
 * Opens the database named by DATABASE_URL (unset = `<dataDir>/qiao.db`). Does not migrate.
 * The MySQL and PostgreSQL drivers are imported when Kysely first needs the pool (its first
 * query), so a SQLite deployment never loads them (several MB of heap and code).
 */
export function openDb(options: { url?: string | undefined; dataDir: string; poolSize?: number }): Db {
  const dialect = dialectOf(options.url)
  const plugins = [new CamelCasePlugin()]
  let kysely: Kysely<Database>
  if (dialect === 'sqlite') {
    const file = options.url?.startsWith('sqlite:')
      ? options.url.slice('sqlite:'.length).replace(/^\/\//, '')
      : join(options.dataDir, 'qiao.db')
    if (file !== ':memory:') mkdirSync(dirname(resolve(file)), { recursive: true })
    const database = new SQLite(file)
    database.pragma('journal_mode = WAL')
    database.pragma('synchronous = NORMAL')
    database.pragma('busy_timeout = 5000')
    database.pragma('foreign_keys = ON')
    // better-sqlite3 builds SQLite with a 16 MB page cache per connection; SQLite's own default is
    // 2 MB. The operating system caches the file anyway, and the hot paths touch few pages.
    database.pragma('cache_size = -2000')
    cachePreparedStatements(database)
    kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database }), plugins })
  } else if (dialect === 'mysql') {
    const url = options.url!.replace(/^mariadb:/, 'mysql:')
    const pool = async () => {
      const { createPool } = await import('mysql2')
      return createPool({
        uri: url,
        connectionLimit: options.poolSize ?? 10,
        // SUM() answers DECIMAL; as numbers, not strings. BIGINT fits a double for our values.
        decimalNumbers: true,
        supportBigNumbers: true,
        bigNumberStrings: false,
        timezone: 'Z',
        charset: 'utf8mb4',
      })
    }
    kysely = new Kysely<Database>({ dialect: new MysqlDialect({ pool }), plugins })
  } else {
    const pool = async () => {
      const { default: pg } = await import('pg')
      // PostgreSQL returns BIGINT and NUMERIC (SUM, COUNT) as strings; our values fit in a double.
      pg.types.setTypeParser(20, (v) => Number(v))
      pg.types.setTypeParser(1700, (v) => Number(v))
      const created = new pg.Pool({ connectionString: options.url, max: options.poolSize ?? 10 })
      // An idle client's connection can be cut by the server (restart, failover, DROP DATABASE …
      // FORCE while closing). pg reports that on the pool; unhandled it would crash the process.
      // The next query gets a fresh connection or a real error, which is where it is handled.
      created.on('error', () => {})
      return created
    }
    kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), plugins })
  }
  return {
    kysely,
    dialect,
    async ping() {
      await sql`select 1`.execute(kysely)
    },
    async close() {
      await kysely.destroy()
    },
  }
}

/**
 * Kysely prepares every query afresh, and on SQLite preparing costs about as much as running a
 * small query. Our queries come from a bounded set of shapes, so prepared statements are reused by
 * SQL text (hot paths such as the /v1 gateway run a dozen per request). A statement still being
 * iterated is never handed out twice.
 */
function cachePreparedStatements(database: SQLite.Database, max = 1_000): void {
  const prepare = database.prepare.bind(database)
  const cache = new Map<string, SQLite.Statement>()
  database.prepare = ((source: string) => {
    const hit = cache.get(source)
    if (hit && !hit.busy) return hit
    const stmt = prepare(source)
    if (!hit) {
      if (cache.size >= max) cache.clear()
      cache.set(source, stmt)
    }
    return stmt
  }) as typeof database.prepare
}

/** True when the error is a unique-constraint violation, on any of the three engines. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; errno?: number; message?: string }
  return (
    e?.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    e?.code === 'ER_DUP_ENTRY' ||
    e?.errno === 1062 ||
    e?.code === '23505'
  )
}

/** Affected-row count of an update/delete result, the same on all three engines. */
export function affectedRows(result: { numUpdatedRows?: bigint; numDeletedRows?: bigint }): number {
  return Number(result.numUpdatedRows ?? result.numDeletedRows ?? 0n)
}
