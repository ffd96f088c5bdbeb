import { sql } from 'kysely'
import type { Db } from '../db/kysely'

/**
 * Makes every INSERT and UPDATE on `table` fail with a storage error, as a database that refuses
 * writes would (triggers on all three engines). Returns the function that undoes it. Tests only.
 */
export async function refuseWrites(db: Db, table: string): Promise<() => Promise<void>> {
  const k = db.kysely
  const name = `qiao_test_refuse_${table}`
  if (db.dialect === 'postgres') {
    await sql.raw(`CREATE OR REPLACE FUNCTION ${name}() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk I/O error'; END $$ LANGUAGE plpgsql`).execute(k)
    await sql.raw(`CREATE TRIGGER ${name} BEFORE INSERT OR UPDATE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${name}()`).execute(k)
    return async () => {
      await sql.raw(`DROP TRIGGER ${name} ON ${table}`).execute(k)
      await sql.raw(`DROP FUNCTION ${name}()`).execute(k)
    }
  }
  const body = db.dialect === 'sqlite' ? "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END" : "FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'disk I/O error'"
  for (const op of ['INSERT', 'UPDATE']) await sql.raw(`CREATE TRIGGER ${name}_${op} BEFORE ${op} ON ${table} ${body}`).execute(k)
  return async () => {
    for (const op of ['INSERT', 'UPDATE']) await sql.raw(`DROP TRIGGER ${name}_${op}`).execute(k)
  }
}
