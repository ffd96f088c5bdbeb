import { DEFAULT_CONVERSATION_TITLE, MessagePartSchema, type Conversation, type Message } from '@qiao/shared'
import { z } from 'zod'
import type { AppDeps } from '../../context'
import { AppError, notFound } from '../../errors'
import { newId } from '../../ids'
import { safeFileName } from '../files/content-disposition'
import { selectBranch } from './branch'
import { toJsonExport, toMarkdown } from './conversations.export'
import { createConversationsRepo, type ConversationRow, type ListPosition, type MessageRow } from './conversations.repo'
import type { ConversationListQuery, ExportQuery, MessageListQuery, MessagePage } from './conversations.schemas'

/** Search answers at most this many conversations (then paged like any list). */
const SEARCH_LIMIT = 200
const PREVIEW_CHARS = 120
const TITLE_CHARS = 200
/** Rows fetched per `IN (...)` query when loading a long branch. */
const ID_CHUNK = 500

const PartsSchema = z.array(MessagePartSchema)
const CursorSchema = z.tuple([z.union([z.literal(0), z.literal(1)]), z.string().max(40), z.string().max(64)])

function toConversation(row: ConversationRow): Conversation {
  return {
    id: row.id,
    title: row.title,
    model: row.model,
    systemPrompt: row.systemPrompt,
    pinned: row.pinned === 1,
    archived: row.archived === 1,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    lastMessagePreview: row.lastMessagePreview,
  }
}

/** Maps a `messages` row to the API shape (parts, usage and error unpacked). */
export function toMessageDto(row: MessageRow): Message {
  let parts: Message['parts']
  if (row.parts) {
    try {
      const parsed = PartsSchema.safeParse(JSON.parse(row.parts))
      if (parsed.success && parsed.data.length) parts = parsed.data
    } catch {
      // Unreadable JSON is shown as "no parts" rather than failing the whole conversation.
    }
  }
  const hasUsage = row.promptTokens !== null || row.completionTokens !== null || row.cost !== null
  return {
    id: row.id,
    conversationId: row.conversationId,
    role: row.role,
    content: row.content,
    ...(parts ? { parts } : {}),
    reasoning: row.reasoning,
    model: row.model,
    status: row.status,
    parentId: row.parentId,
    ...(hasUsage
      ? {
          usage: {
            promptTokens: row.promptTokens ?? 0,
            completionTokens: row.completionTokens ?? 0,
            cost: row.cost ?? 0,
          },
        }
      : {}),
    ...(row.errorCode ? { error: { code: row.errorCode, message: row.errorMessage ?? '' } } : {}),
    createdAt: row.createdAt,
  }
}

// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g

/** Titles are one line of text: control characters and line breaks become spaces. */
function cleanTitle(title: string): string {
  const text = title.replace(CONTROL_CHARS, ' ').replace(/\s+/g, ' ').trim()
  return Array.from(text).slice(0, TITLE_CHARS).join('') || DEFAULT_CONVERSATION_TITLE
}

function encodeCursor(row: ConversationRow): string {
  return Buffer.from(JSON.stringify([row.pinned, row.updatedAt, row.id])).toString('base64url')
}

function decodeCursor(cursor: string): ListPosition {
  try {
    const [pinned, updatedAt, id] = CursorSchema.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')))
    return { pinned, updatedAt, id }
  } catch {
    throw new AppError('VALIDATION_FAILED', 'The cursor is not valid', {
      details: [{ path: '/cursor', message: 'invalid' }],
    })
  }
}

/**
 * Conversations and their message trees. Every method takes the caller's id, and a conversation
 * that is missing or someone else's is the same NOT_FOUND (no existence leak, SECURITY C1).
 */
export function createConversationsService(deps: AppDeps) {
  const repo = createConversationsRepo(deps.db)
  const now = () => (deps.now ? deps.now() : new Date())

  async function owned(userId: string, id: string): Promise<ConversationRow> {
    const row = await repo.findOwned(userId, id)
    if (!row) throw notFound('Conversation')
    return row
  }

  async function loadRows(conversationId: string, ids: string[]): Promise<MessageRow[]> {
    const byId = new Map<string, MessageRow>()
    for (let i = 0; i < ids.length; i += ID_CHUNK) {
      for (const row of await repo.listMessagesByIds(conversationId, ids.slice(i, i + ID_CHUNK))) byId.set(row.id, row)
    }
    // A row deleted between the two reads is skipped rather than failing the page.
    return ids.map((id) => byId.get(id)).filter((r): r is MessageRow => r !== undefined)
  }

  /** The selected branch of the caller's conversation; NOT_FOUND for a leaf outside it. */
  async function branch(userId: string, conversationId: string, leafId?: string) {
    await owned(userId, conversationId)
    const view = selectBranch(await repo.listMessageNodes(conversationId), leafId)
    if (!view) throw notFound('Message')
    return view
  }

  async function branchMessages(userId: string, conversationId: string, leafId?: string): Promise<Message[]> {
    const view = await branch(userId, conversationId, leafId)
    const rows = await loadRows(
      conversationId,
      view.path.map((n) => n.id),
    )
    const nodes = new Map(view.path.map((n) => [n.id, n]))
    return rows.map((r) => ({ ...toMessageDto(r), siblingIds: view.siblingIds(nodes.get(r.id)!) }))
  }

  return {
    async create({
      userId,
      title,
      model,
      systemPrompt,
    }: {
      userId: string
      title?: string | undefined
      model?: string | undefined
      systemPrompt?: string | undefined
    }): Promise<Conversation> {
      const at = now()
      const row: ConversationRow = {
        id: newId(at.getTime()),
        userId,
        title: title ? cleanTitle(title) : DEFAULT_CONVERSATION_TITLE,
        model: model ?? null,
        systemPrompt: systemPrompt || null,
        pinned: 0,
        archived: 0,
        lastMessagePreview: null,
        createdAt: at.toISOString(),
        updatedAt: at.toISOString(),
      }
      await repo.insert(row)
      return toConversation(row)
    },

    /** The caller's conversation; NOT_FOUND when missing or not theirs. */
    async get({ userId, id }: { userId: string; id: string }): Promise<Conversation> {
      return toConversation(await owned(userId, id))
    },

    /** Pinned first, then most recently active; `q` narrows to search hits (titles and message text). */
    async list(
      userId: string,
      query: ConversationListQuery,
    ): Promise<{ items: Conversation[]; nextCursor: string | null }> {
      const after = query.cursor ? decodeCursor(query.cursor) : undefined
      let ids: string[] | undefined
      if (query.q) {
        ids = await repo.searchConversationIds({ userId, q: query.q, limit: SEARCH_LIMIT })
        if (!ids.length) return { items: [], nextCursor: null }
      }
      const rows = await repo.list({
        userId,
        archived: query.archived,
        ...(ids ? { ids } : {}),
        ...(after ? { after } : {}),
        limit: query.limit + 1,
      })
      const page = rows.slice(0, query.limit)
      return {
        items: page.map(toConversation),
        nextCursor: rows.length > query.limit ? encodeCursor(page[page.length - 1]!) : null,
      }
    },

    /**
     * Rename, pin, archive, change model or system prompt. `updatedAt` stays: it means "last
     * activity" and orders the list, and pinning or renaming is not activity.
     */
    async update({
      userId,
      id,
      patch,
    }: {
      userId: string
      id: string
      patch: {
        title?: string | undefined
        pinned?: boolean | undefined
        archived?: boolean | undefined
        model?: string | null | undefined
        systemPrompt?: string | null | undefined
      }
    }): Promise<Conversation> {
      await owned(userId, id)
      const set: Partial<ConversationRow> = {}
      if (patch.title !== undefined) set.title = cleanTitle(patch.title)
      if (patch.pinned !== undefined) set.pinned = patch.pinned ? 1 : 0
      if (patch.archived !== undefined) set.archived = patch.archived ? 1 : 0
      if (patch.model !== undefined) set.model = patch.model
      if (patch.systemPrompt !== undefined) set.systemPrompt = patch.systemPrompt || null
      if (Object.keys(set).length) await repo.update(userId, id, set)
      return toConversation(await owned(userId, id))
    },

    /** Deletes the conversation and all its messages. Uploaded files stay with their owner. */
    async delete({ userId, id }: { userId: string; id: string }): Promise<void> {
      await owned(userId, id)
      await repo.delete(userId, id)
    },

    /**
     * For the chat turn: marks activity, sets the list preview, and names the conversation when
     * `title` is given and it still has the default title (a rename by the user always wins).
     */
    async touch({
      userId,
      id,
      preview,
      title,
    }: {
      userId: string
      id: string
      preview: string
      title?: string | undefined
    }): Promise<Conversation> {
      await owned(userId, id)
      const text = Array.from(preview.replace(/\s+/g, ' ').trim()).slice(0, PREVIEW_CHARS).join('')
      await repo.touch(userId, id, {
        updatedAt: now().toISOString(),
        preview: text,
        title: title === undefined ? undefined : cleanTitle(title),
        defaultTitle: DEFAULT_CONVERSATION_TITLE,
      })
      return toConversation(await owned(userId, id))
    },

    /** One repo method, three engines: ids of the caller's conversations matching `q`, most recent first. */
    searchConversationIds(filter: { userId: string; q: string; limit: number }): Promise<string[]> {
      return repo.searchConversationIds(filter)
    },

    /**
     * A page of the selected branch, oldest first. The cursor is the oldest message id of the
     * previous page: pages walk backwards from the newest message.
     */
    async listMessages({
      userId,
      conversationId,
      query,
    }: {
      userId: string
      conversationId: string
      query: MessageListQuery
    }): Promise<MessagePage> {
      const view = await branch(userId, conversationId, query.leafId)
      let end = view.path.length
      if (query.cursor) {
        end = view.path.findIndex((n) => n.id === query.cursor)
        if (end < 0) {
          throw new AppError('VALIDATION_FAILED', 'The cursor is not on this branch', {
            details: [{ path: '/cursor', message: 'invalid' }],
          })
        }
      }
      const start = Math.max(0, end - query.limit)
      const nodes = view.path.slice(start, end)
      const rows = await loadRows(
        conversationId,
        nodes.map((n) => n.id),
      )
      const byId = new Map(nodes.map((n) => [n.id, n]))
      return {
        items: rows.map((r) => ({ ...toMessageDto(r), siblingIds: view.siblingIds(byId.get(r.id)!) })),
        nextCursor: start > 0 ? nodes[0]!.id : null,
        leafId: view.path.at(-1)?.id ?? null,
      }
    },

    /**
     * For the chat turn: the message rows from the root to `leafId` (or the newest leaf), oldest
     * first — the context to send upstream. NOT_FOUND for another user's conversation or a leaf
     * that is not in it.
     */
    async getBranchPath({
      userId,
      conversationId,
      leafId,
    }: {
      userId: string
      conversationId: string
      leafId?: string | undefined
    }): Promise<MessageRow[]> {
      const view = await branch(userId, conversationId, leafId)
      return loadRows(
        conversationId,
        view.path.map((n) => n.id),
      )
    },

    toMessageDto,

    /** The current branch as a download: Markdown for people, JSON for programs. */
    async export({
      userId,
      id,
      query,
    }: {
      userId: string
      id: string
      query: ExportQuery
    }): Promise<{ fileName: string; contentType: string; body: string }> {
      const conversation = toConversation(await owned(userId, id))
      const messages = await branchMessages(userId, id, query.leafId)
      const exportedAt = now().toISOString()
      const base = safeFileName(conversation.title, 'conversation')
      if (query.format === 'json') {
        return {
          fileName: `${base}.json`,
          contentType: 'application/json; charset=utf-8',
          body: JSON.stringify(toJsonExport(conversation, messages, exportedAt), null, 2),
        }
      }
      return {
        fileName: `${base}.md`,
        contentType: 'text/markdown; charset=utf-8',
        body: toMarkdown(conversation, messages, exportedAt),
      }
    },
  }
}

export type ConversationsService = ReturnType<typeof createConversationsService>
