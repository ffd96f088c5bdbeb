import { sql, type Kysely } from 'kysely'
import { dialectFromKysely } from '../migrate'

/**
 * Full-text search over conversation titles and message text, one structure per engine. The
 * conversations repo hides the differences behind `searchConversationIds`.
 *
 * - SQLite: `search_docs` (one row per message or title, with an INTEGER key so the FTS rowid
 *   stays stable across VACUUM) and an external-content FTS5 table `search_fts` with the trigram
 *   tokenizer, which matches substrings and so works for Chinese. Triggers keep both in sync:
 *   other features write messages with plain Kysely and must not have to remember the index.
 * - MySQL/MariaDB: InnoDB FULLTEXT indexes. MariaDB has no ngram parser, so CJK text is one
 *   "word" to it; the repo falls back to LIKE for such terms.
 * - PostgreSQL: GIN indexes over `to_tsvector('simple', …)`; the same LIKE fallback for CJK.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const dialect = dialectFromKysely(db)
  await db.schema.createIndex('messages_user_idx').on('messages').column('user_id').execute()

  if (dialect === 'sqlite') {
    const statements = [
      sql`CREATE TABLE search_docs (
        id INTEGER PRIMARY KEY,
        ref_id varchar(40) NOT NULL UNIQUE,
        kind varchar(1) NOT NULL,
        conversation_id varchar(40) NOT NULL,
        user_id varchar(40) NOT NULL,
        body text NOT NULL
      )`,
      sql`CREATE INDEX search_docs_user_idx ON search_docs (user_id, conversation_id)`,
      sql`CREATE VIRTUAL TABLE search_fts USING fts5(body, content='search_docs', content_rowid='id', tokenize='trigram')`,
      // search_docs → search_fts (the documented external-content pattern).
      sql`CREATE TRIGGER search_docs_ai AFTER INSERT ON search_docs BEGIN
        INSERT INTO search_fts (rowid, body) VALUES (new.id, new.body);
      END`,
      sql`CREATE TRIGGER search_docs_ad AFTER DELETE ON search_docs BEGIN
        INSERT INTO search_fts (search_fts, rowid, body) VALUES ('delete', old.id, old.body);
      END`,
      sql`CREATE TRIGGER search_docs_au AFTER UPDATE OF body ON search_docs BEGIN
        INSERT INTO search_fts (search_fts, rowid, body) VALUES ('delete', old.id, old.body);
        INSERT INTO search_fts (rowid, body) VALUES (new.id, new.body);
      END`,
      // messages → search_docs
      sql`CREATE TRIGGER messages_search_ai AFTER INSERT ON messages BEGIN
        INSERT INTO search_docs (ref_id, kind, conversation_id, user_id, body)
        VALUES (new.id, 'm', new.conversation_id, new.user_id, new.content);
      END`,
      sql`CREATE TRIGGER messages_search_au AFTER UPDATE OF content ON messages WHEN new.content IS NOT old.content BEGIN
        UPDATE search_docs SET body = new.content WHERE ref_id = new.id;
      END`,
      sql`CREATE TRIGGER messages_search_ad AFTER DELETE ON messages BEGIN
        DELETE FROM search_docs WHERE ref_id = old.id;
      END`,
      // conversations (titles) → search_docs
      sql`CREATE TRIGGER conversations_search_ai AFTER INSERT ON conversations BEGIN
        INSERT INTO search_docs (ref_id, kind, conversation_id, user_id, body)
        VALUES (new.id, 'c', new.id, new.user_id, new.title);
      END`,
      sql`CREATE TRIGGER conversations_search_au AFTER UPDATE OF title ON conversations WHEN new.title IS NOT old.title BEGIN
        UPDATE search_docs SET body = new.title WHERE ref_id = new.id;
      END`,
      sql`CREATE TRIGGER conversations_search_ad AFTER DELETE ON conversations BEGIN
        DELETE FROM search_docs WHERE ref_id = old.id;
      END`,
      // Rows written before this migration.
      sql`INSERT INTO search_docs (ref_id, kind, conversation_id, user_id, body)
        SELECT id, 'c', id, user_id, title FROM conversations`,
      sql`INSERT INTO search_docs (ref_id, kind, conversation_id, user_id, body)
        SELECT id, 'm', conversation_id, user_id, content FROM messages`,
    ]
    for (const s of statements) await s.execute(db)
  } else if (dialect === 'mysql') {
    // Under the tables' utf8mb4_bin collation InnoDB indexes new rows case-sensitively, so
    // "Sourdough" would not be found by "sourdough". The two searched columns get a
    // case-insensitive collation (nothing compares them for equality).
    await sql`ALTER TABLE messages MODIFY content mediumtext CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL`.execute(
      db,
    )
    await sql`ALTER TABLE conversations MODIFY title varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL`.execute(
      db,
    )
    await sql`CREATE FULLTEXT INDEX messages_content_ft ON messages (content)`.execute(db)
    await sql`CREATE FULLTEXT INDEX conversations_title_ft ON conversations (title)`.execute(db)
  } else {
    await sql`CREATE INDEX messages_content_tsv ON messages USING gin (to_tsvector('simple', content))`.execute(db)
    await sql`CREATE INDEX conversations_title_tsv ON conversations USING gin (to_tsvector('simple', title))`.execute(
      db,
    )
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  const dialect = dialectFromKysely(db)
  if (dialect === 'sqlite') {
    for (const name of [
      'conversations_search_ad',
      'conversations_search_au',
      'conversations_search_ai',
      'messages_search_ad',
      'messages_search_au',
      'messages_search_ai',
      'search_docs_au',
      'search_docs_ad',
      'search_docs_ai',
    ]) {
      await sql`DROP TRIGGER IF EXISTS ${sql.id(name)}`.execute(db)
    }
    await sql`DROP TABLE IF EXISTS search_fts`.execute(db)
    await sql`DROP TABLE IF EXISTS search_docs`.execute(db)
  } else if (dialect === 'mysql') {
    await sql`DROP INDEX conversations_title_ft ON conversations`.execute(db)
    await sql`DROP INDEX messages_content_ft ON messages`.execute(db)
    await sql`ALTER TABLE messages MODIFY content mediumtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL`.execute(
      db,
    )
    await sql`ALTER TABLE conversations MODIFY title varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL`.execute(
      db,
    )
  } else {
    await sql`DROP INDEX IF EXISTS conversations_title_tsv`.execute(db)
    await sql`DROP INDEX IF EXISTS messages_content_tsv`.execute(db)
  }
  // Only MySQL names the table in DROP INDEX.
  const drop = db.schema.dropIndex('messages_user_idx')
  await (dialect === 'mysql' ? drop.on('messages') : drop).execute()
}
