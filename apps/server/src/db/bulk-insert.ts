import { CompiledQuery, type Insertable, type Kysely, type Transaction } from 'kysely'
import type { Database } from './schema'

/** Most rows per multi-row INSERT: far below every engine's limit on bound parameters. */
const INSERT_CHUNK = 128

type Executor = Kysely<Database> | Transaction<Database>

/**
 * Many rows of one table in few INSERT statements, for the hot batch writes (a lease's settlement,
 * billing/leases.ts). Rows go in chunks of power-of-two sizes (50 rows → 32 + 16 + 2), and each
 * chunk size's statement is built and compiled by Kysely once, for the engine at hand; after that
 * only its parameters are new. Building and compiling a 128-row INSERT through the query builder
 * (a tree of ~3,000 nodes) cost about as much again as SQLite's own work for it (bench/README.md),
 * and the few statement texts stay prepared.
 *
 * `columns` is every column of the table, in the order the statement lists them (the type checker
 * names any that is missing, so a column added later cannot be dropped silently); a row without a
 * value for one inserts NULL there. One inserter serves one database: the SQL it keeps is that
 * database's dialect.
 */
export function bulkInserter<T extends keyof Database, const C extends ReadonlyArray<keyof Insertable<Database[T]> & string>>(
  table: T,
  columns: Exclude<keyof Database[T], C[number]> extends never ? C : { missingColumns: Exclude<keyof Database[T], C[number]> },
) {
  const order = columns as C
  const statements = new Map<number, string>()
  return async function insert(ex: Executor, rows: ReadonlyArray<Insertable<Database[T]>>): Promise<void> {
    for (let i = 0; i < rows.length; ) {
      let size = INSERT_CHUNK
      while (size > rows.length - i) size >>= 1
      const chunk = rows.slice(i, i + size)
      i += size
      const parameters = flatten(chunk, order)
      let text = statements.get(size)
      if (text === undefined) {
        const compiled = ex
          .insertInto(table)
          .values(chunk.map((row) => Object.fromEntries(order.map((c) => [c, row[c] ?? null]))) as never)
          .compile()
        // The statement must take its parameters exactly as flatten() lays them out.
        if (compiled.parameters.length !== parameters.length || compiled.parameters.some((p, j) => p !== parameters[j])) {
          throw new Error(`bulk insert into ${table}: the compiled statement's parameters are not in column order`)
        }
        text = compiled.sql
        statements.set(size, text)
      }
      await ex.executeQuery(CompiledQuery.raw(text, parameters))
    }
  }
}

function flatten<R>(rows: ReadonlyArray<R>, columns: ReadonlyArray<keyof R>): unknown[] {
  const out = new Array<unknown>(rows.length * columns.length)
  let n = 0
  for (const row of rows) for (const c of columns) out[n++] = row[c] ?? null
  return out
}
