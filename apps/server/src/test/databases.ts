import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createConnection } from 'mysql2/promise'
import pg from 'pg'
import { openDb, type Db, type Dialect } from '../db/kysely'
import { migrateToLatest } from '../db/migrate'
import { TEST_MYSQL_URL, TEST_POSTGRES_URL } from './services'

export interface TestDb {
  db: Db
  /** The URL a second process could open (same database). */
  url: string
  dataDir: string
  drop(): Promise<void>
}

/**
 * A brand-new, migrated database of the given dialect, private to the caller: a temp SQLite file,
 * or a freshly created MariaDB/PostgreSQL database with a random name. `drop()` removes it.
 */
export async function createTestDb(dialect: Dialect): Promise<TestDb> {
  const dataDir = mkdtempSync(join(tmpdir(), 'qiao-test-'))
  const name = `qiao_t_${randomBytes(6).toString('hex')}`
  let url: string
  let dropDatabase: () => Promise<void> = async () => {}
  if (dialect === 'sqlite') {
    url = `sqlite:${join(dataDir, 'test.db')}`
  } else if (dialect === 'mysql') {
    const admin = await createConnection(TEST_MYSQL_URL)
    await admin.query(`CREATE DATABASE ${name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`)
    await admin.end()
    const u = new URL(TEST_MYSQL_URL)
    u.pathname = `/${name}`
    url = u.toString()
    dropDatabase = async () => {
      const c = await createConnection(TEST_MYSQL_URL)
      await c.query(`DROP DATABASE IF EXISTS ${name}`)
      await c.end()
    }
  } else {
    const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL })
    await admin.connect()
    await admin.query(`CREATE DATABASE ${name}`)
    await admin.end()
    const u = new URL(TEST_POSTGRES_URL)
    u.pathname = `/${name}`
    url = u.toString()
    dropDatabase = async () => {
      const c = new pg.Client({ connectionString: TEST_POSTGRES_URL })
      await c.connect()
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await c.end()
    }
  }
  const db = openDb({ url, dataDir })
  await migrateToLatest(db.kysely)
  return {
    db,
    url,
    dataDir,
    async drop() {
      await db.close()
      await dropDatabase()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}
