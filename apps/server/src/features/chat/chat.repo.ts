import type { Insertable, Kysely, Transaction } from 'kysely'
import { affectedRows, type Db } from '../../db/kysely'
import type { ApiCallsTable, Database, MessagesTable } from '../../db/schema'

/** The SQL of a chat turn: one query per method, no rules. Writers take the transaction they run in. */

export type Executor = Kysely<Database> | Transaction<Database>
export type MessageRow = MessagesTable

/** What finalising sets on the assistant row. */
export type FinalMessageFields = Pick<
  MessagesTable,
  'content' | 'reasoning' | 'status' | 'promptTokens' | 'completionTokens' | 'cost' | 'errorCode' | 'errorMessage' | 'apiCallId' | 'updatedAt'
>

export function createChatRepo(db: Db) {
  const k = db.kysely
  return {
    transaction<T>(fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
      return k.transaction().execute(fn)
    },

    async findMessage(args: { userId: string; conversationId: string; id: string }): Promise<MessageRow | undefined> {
      return k
        .selectFrom('messages')
        .selectAll()
        .where('id', '=', args.id)
        .where('conversationId', '=', args.conversationId)
        .where('userId', '=', args.userId)
        .executeTakeFirst()
    },

    async findMessagesByIds(ids: string[]): Promise<MessageRow[]> {
      if (ids.length === 0) return []
      return k.selectFrom('messages').selectAll().where('id', 'in', ids).execute()
    },

    async insertMessage(ex: Executor, row: MessageRow): Promise<void> {
      await ex.insertInto('messages').values(row).execute()
    },

    /** Bumps the conversation in the list and shows the latest text under its title. */
    async touchConversation(ex: Executor, args: { userId: string; id: string; preview: string; at: string }): Promise<void> {
      await ex
        .updateTable('conversations')
        .set({ updatedAt: args.at, lastMessagePreview: args.preview })
        .where('id', '=', args.id)
        .where('userId', '=', args.userId)
        .execute()
    },

    /** Sets the title only while it is still `defaultTitle` (a user's rename always wins). */
    async setTitleIfDefault(ex: Executor, args: { userId: string; id: string; title: string; defaultTitle: string }): Promise<void> {
      await ex
        .updateTable('conversations')
        .set({ title: args.title })
        .where('id', '=', args.id)
        .where('userId', '=', args.userId)
        .where('title', '=', args.defaultTitle)
        .execute()
    },

    /** Saves the text streamed so far, so a crash mid-stream keeps it; only while still streaming. */
    async checkpoint(args: { id: string; content: string; reasoning: string | null; at: string }): Promise<void> {
      await k
        .updateTable('messages')
        .set({ content: args.content, reasoning: args.reasoning, updatedAt: args.at })
        .where('id', '=', args.id)
        .where('status', '=', 'streaming')
        .execute()
    },

    async findApiCall(ex: Executor, requestId: string): Promise<Pick<ApiCallsTable, 'id'> | undefined> {
      return ex.selectFrom('apiCalls').select('id').where('requestId', '=', requestId).executeTakeFirst()
    },

    async insertApiCall(ex: Executor, row: Insertable<ApiCallsTable>): Promise<void> {
      await ex.insertInto('apiCalls').values(row).execute()
    },

    /** Moves a streaming message to its final state. Returns false when it was already final. */
    async finishMessage(ex: Executor, id: string, fields: FinalMessageFields): Promise<boolean> {
      const res = await ex.updateTable('messages').set(fields).where('id', '=', id).where('status', '=', 'streaming').executeTakeFirst()
      return affectedRows(res) === 1
    },

    /** Assistant rows still `streaming` whose last write is older than `before` (left by a dead process). */
    async listStaleStreaming(args: { before: string; limit: number }): Promise<MessageRow[]> {
      return k
        .selectFrom('messages')
        .selectAll()
        .where('status', '=', 'streaming')
        .where('updatedAt', '<', args.before)
        .orderBy('updatedAt')
        .limit(args.limit)
        .execute()
    },
  }
}

export type ChatRepo = ReturnType<typeof createChatRepo>
