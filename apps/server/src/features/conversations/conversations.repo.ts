import type { Updateable } from 'kysely'
import type { Db } from '../../db/kysely'
import type { ConversationsTable, MessagesTable } from '../../db/schema'
import { searchConversationIds } from './conversations.search'

export type ConversationRow = ConversationsTable
export type MessageRow = MessagesTable
/** What the branch logic needs of a message: no content. */
export type MessageNode = Pick<MessagesTable, 'id' | 'parentId' | 'role' | 'createdAt'>

/** Position in the list order (pinned desc, updatedAt desc, id desc), as the cursor carries it. */
export interface ListPosition {
  pinned: 0 | 1
  updatedAt: string
  id: string
}

/** SQL for conversations and their messages. Every conversation query is scoped to the owner. */
export function createConversationsRepo(db: Db) {
  const k = db.kysely
  return {
    async insert(row: ConversationRow): Promise<void> {
      await k.insertInto('conversations').values(row).execute()
    },

    findOwned(userId: string, id: string): Promise<ConversationRow | undefined> {
      return k
        .selectFrom('conversations')
        .selectAll()
        .where('id', '=', id)
        .where('userId', '=', userId)
        .executeTakeFirst()
    },

    /** One page in list order, after `after` when given, optionally limited to `ids` (search hits). */
    list(filter: {
      userId: string
      archived: boolean
      ids?: string[]
      after?: ListPosition
      limit: number
    }): Promise<ConversationRow[]> {
      let q = k
        .selectFrom('conversations')
        .selectAll()
        .where('userId', '=', filter.userId)
        .where('archived', '=', filter.archived ? 1 : 0)
      if (filter.ids) q = q.where('id', 'in', filter.ids)
      const after = filter.after
      if (after) {
        q = q.where((eb) =>
          eb.or([
            eb('pinned', '<', after.pinned),
            eb.and([eb('pinned', '=', after.pinned), eb('updatedAt', '<', after.updatedAt)]),
            eb.and([eb('pinned', '=', after.pinned), eb('updatedAt', '=', after.updatedAt), eb('id', '<', after.id)]),
          ]),
        )
      }
      return q
        .orderBy('pinned', 'desc')
        .orderBy('updatedAt', 'desc')
        .orderBy('id', 'desc')
        .limit(filter.limit)
        .execute()
    },

    async update(userId: string, id: string, patch: Updateable<ConversationRow>): Promise<void> {
      await k.updateTable('conversations').set(patch).where('id', '=', id).where('userId', '=', userId).execute()
    },

    /** Records activity; the title changes only while it is still `defaultTitle`. */
    async touch(
      userId: string,
      id: string,
      values: { updatedAt: string; preview: string; title?: string | undefined; defaultTitle: string },
    ): Promise<void> {
      await k
        .updateTable('conversations')
        .set((eb) => ({
          updatedAt: values.updatedAt,
          lastMessagePreview: values.preview,
          ...(values.title !== undefined
            ? {
                title: eb.case().when('title', '=', values.defaultTitle).then(values.title).else(eb.ref('title')).end(),
              }
            : {}),
        }))
        .where('id', '=', id)
        .where('userId', '=', userId)
        .execute()
    },

    /** Deletes the conversation and its messages together. */
    async delete(userId: string, id: string): Promise<void> {
      await k.transaction().execute(async (tx) => {
        await tx.deleteFrom('messages').where('conversationId', '=', id).where('userId', '=', userId).execute()
        await tx.deleteFrom('conversations').where('id', '=', id).where('userId', '=', userId).execute()
      })
    },

    listMessageNodes(conversationId: string): Promise<MessageNode[]> {
      return k
        .selectFrom('messages')
        .select(['id', 'parentId', 'role', 'createdAt'])
        .where('conversationId', '=', conversationId)
        .orderBy('createdAt')
        .orderBy('id')
        .execute()
    },

    listMessagesByIds(conversationId: string, ids: string[]): Promise<MessageRow[]> {
      if (!ids.length) return Promise.resolve([])
      return k
        .selectFrom('messages')
        .selectAll()
        .where('conversationId', '=', conversationId)
        .where('id', 'in', ids)
        .execute()
    },

    searchConversationIds(filter: { userId: string; q: string; limit: number }): Promise<string[]> {
      return searchConversationIds(k, db.dialect, filter)
    },
  }
}
