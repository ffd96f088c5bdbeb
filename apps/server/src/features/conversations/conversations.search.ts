import { sql, type Kysely, type RawBuilder } from 'kysely'
import type { Dialect } from '../../db/kysely'
import type { Database } from '../../db/schema'

/**
 * Search over conversation titles and message text, one implementation per engine (the index
 * structures come from migration 0002). A conversation matches when its title, or one of its
 * messages, contains every term of the query. User input only ever travels as bound parameters;
 * what goes into an FTS or boolean-mode expression is reduced to letters and digits or quoted.
 */

/** At most this many whitespace-separated terms are used; the rest are ignored. */
const MAX_TERMS = 8

/** Scripts written without spaces: engine tokenizers see a whole CJK run as one "word". */
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u
const WORD = /^[\p{L}\p{N}]+$/u

/** InnoDB's built-in stopword list: FULLTEXT never finds these, so they go through LIKE. */
const INNODB_STOPWORDS = new Set(
  'a about an are as at be by com de en for from how i in is it la of on or that the this to was what when where who will with und www'.split(
    ' ',
  ),
)

export function searchTerms(q: string): string[] {
  const unique = [
    ...new Set(
      q
        .trim()
        .split(/\s+/u)
        .filter(Boolean)
        .map((t) => t.toLowerCase()),
    ),
  ]
  return unique.slice(0, MAX_TERMS)
}

/** A lower-case LIKE pattern matching `term` literally anywhere; `!` escapes (portable). */
function containsPattern(term: string): string {
  return `%${term.toLowerCase().replace(/[!%_]/g, (c) => `!${c}`)}%`
}

const likeLower = (column: RawBuilder<unknown>, term: string) =>
  sql`lower(${column}) LIKE ${containsPattern(term)} ESCAPE '!'`

const isWord = (t: string) => WORD.test(t) && !CJK.test(t)

/** Terms the word index can answer; everything else is matched with LIKE. */
function splitTerms(dialect: Dialect, terms: string[]): { indexed: string[]; like: string[] } {
  const indexed: string[] = []
  const like: string[] = []
  for (const t of terms) {
    const chars = Array.from(t).length
    let useIndex: boolean
    switch (dialect) {
      // The trigram tokenizer indexes any text, but a term needs at least three characters.
      case 'sqlite':
        useIndex = chars >= 3
        break
      // innodb_ft_min_token_size is 3 and max 84 by default; stopwords are not indexed.
      case 'mysql':
        useIndex = isWord(t) && chars >= 3 && chars <= 84 && !INNODB_STOPWORDS.has(t)
        break
      case 'postgres':
        useIndex = isWord(t)
        break
    }
    ;(useIndex ? indexed : like).push(t)
  }
  return { indexed, like }
}

/** FTS5 string literal: inside double quotes every character is literal except `"` itself. */
const fts5Phrase = (term: string) => `"${term.replace(/"/g, '""')}"`

export async function searchConversationIds(
  k: Kysely<Database>,
  dialect: Dialect,
  { userId, q, limit }: { userId: string; q: string; limit: number },
): Promise<string[]> {
  const terms = searchTerms(q)
  if (!terms.length) return []
  const { indexed, like } = splitTerms(dialect, terms)

  let matching: RawBuilder<unknown>
  if (dialect === 'sqlite') {
    // search_docs holds titles and messages alike (kept in sync by triggers).
    const conds: RawBuilder<unknown>[] = [sql`d.user_id = ${userId}`]
    if (indexed.length) {
      const expr = indexed.map(fts5Phrase).join(' AND ')
      conds.push(sql`d.id IN (SELECT rowid FROM search_fts WHERE search_fts MATCH ${expr})`)
    }
    for (const t of like) conds.push(likeLower(sql.raw('d.body'), t))
    matching = sql`c.id IN (SELECT d.conversation_id FROM search_docs d WHERE ${sql.join(conds, sql` AND `)})`
  } else {
    const wordMatch = (column: string): RawBuilder<unknown> | undefined => {
      if (!indexed.length) return undefined
      if (dialect === 'mysql') {
        // Boolean mode: every term required, as a prefix. Terms are letters and digits only.
        const expr = indexed.map((t) => `+${t}*`).join(' ')
        return sql`MATCH(${sql.raw(column)}) AGAINST (${expr} IN BOOLEAN MODE)`
      }
      const expr = indexed.map((t) => `${t}:*`).join(' & ')
      // The expression must equal the GIN index's for the index to be used.
      return sql`to_tsvector('simple', ${sql.raw(column)}) @@ to_tsquery('simple', ${expr})`
    }
    const allOf = (column: string) => {
      const conds = like.map((t) => likeLower(sql.raw(column), t))
      const word = wordMatch(column)
      if (word) conds.unshift(word)
      return sql.join(conds, sql` AND `)
    }
    matching = sql`((${allOf('c.title')}) OR c.id IN (
      SELECT m.conversation_id FROM messages m WHERE m.user_id = ${userId} AND ${allOf('m.content')}
    ))`
  }
  const { rows } = await sql<{ id: string }>`
    SELECT c.id FROM conversations c
    WHERE c.user_id = ${userId} AND ${matching}
    ORDER BY c.updated_at DESC, c.id DESC
    LIMIT ${limit}
  `.execute(k)
  return rows.map((r) => r.id)
}
