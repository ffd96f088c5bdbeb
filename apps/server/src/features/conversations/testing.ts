import type { Conversation } from '@qiao/shared'
import type { MessagesTable } from '../../db/schema'
import { newId } from '../../ids'
import type { TestApp } from '../../test/app'
import { bearer } from '../auth/testing'

/** Test factories for conversations and messages. Not imported by production code. */

export async function createConversation(
  t: Pick<TestApp, 'inject'>,
  token: string,
  body: { title?: string; model?: string; systemPrompt?: string } = {},
): Promise<Conversation> {
  const res = await t.inject({ method: 'POST', url: '/api/conversations', headers: bearer(token), payload: body })
  if (res.statusCode !== 201) throw new Error(`create conversation failed: ${res.statusCode} ${res.body}`)
  return res.json<Conversation>()
}

/**
 * Writes a message row the way the chat turn does: plain Kysely, no service in between (so the
 * search index must follow by itself). `createdAt` is explicit so branch order is deterministic.
 */
export async function insertMessage(
  t: Pick<TestApp, 'deps'>,
  m: Pick<MessagesTable, 'conversationId' | 'userId' | 'role' | 'content' | 'createdAt'> & Partial<MessagesTable>,
): Promise<MessagesTable> {
  const row: MessagesTable = {
    id: newId(Date.parse(m.createdAt)),
    parentId: null,
    parts: null,
    reasoning: null,
    model: m.role === 'assistant' ? 'qwen-plus' : null,
    status: 'complete',
    promptTokens: null,
    completionTokens: null,
    cost: null,
    errorCode: null,
    errorMessage: null,
    apiCallId: null,
    updatedAt: m.createdAt,
    ...m,
  }
  await t.deps.db.kysely.insertInto('messages').values(row).execute()
  return row
}

/** An ISO time `seconds` after a fixed base, for ordered fixtures. */
export const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, seconds)).toISOString()
