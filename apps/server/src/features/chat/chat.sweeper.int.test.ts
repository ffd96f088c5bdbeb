import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { registerUser, type TestAccount } from '../auth/testing'
import { createConversation, insertMessage } from '../conversations/testing'
import { startChatSweeper } from './sweeper'
import { startChatHarness, type ChatHarness } from './testing'

/** L3: after a crash, answers left `streaming` are finalised with their saved text and one usage row each. */
describe.each(['sqlite', 'mysql'] as const)('restart sweeper on %s', (dialect) => {
  let h: ChatHarness
  let alice: TestAccount
  beforeAll(async () => {
    h = await startChatHarness(dialect)
    alice = await registerUser(h.t)
  })
  afterAll(async () => {
    await h.close()
  })

  const ago = (ms: number) => new Date(Date.now() - ms).toISOString()

  it('turns stale streaming rows into error (keeping their text), writes a missing api_calls row, leaves fresh ones alone', async () => {
    const convo = await createConversation(h.t, alice.accessToken, { model: 'qwen-plus' })
    const base = { conversationId: convo.id, userId: alice.user.id }
    const q = await insertMessage(h.t, { ...base, role: 'user', content: 'Tell me about Beijing', createdAt: ago(300_000) })
    // Died mid-answer, with a checkpoint of the text so far.
    const partial = await insertMessage(h.t, { ...base, role: 'assistant', parentId: q.id, content: '北京是中国的首都', status: 'streaming', createdAt: ago(299_000), updatedAt: ago(120_000) })
    // Died before any token.
    const q2 = await insertMessage(h.t, { ...base, role: 'user', parentId: partial.id, content: 'And Shanghai?', createdAt: ago(200_000) })
    const empty = await insertMessage(h.t, { ...base, role: 'assistant', parentId: q2.id, content: '', status: 'streaming', createdAt: ago(199_000), updatedAt: ago(199_000) })
    // Another instance is still writing this one (checkpointed a moment ago).
    const q3 = await insertMessage(h.t, { ...base, role: 'user', parentId: empty.id, content: 'Still going', createdAt: ago(5_000) })
    const fresh = await insertMessage(h.t, { ...base, role: 'assistant', parentId: q3.id, content: 'so far', status: 'streaming', createdAt: ago(4_000), updatedAt: ago(1_000) })

    // What startup.ts runs at boot.
    const stop = await startChatSweeper(h.t.app.services.chat, h.t.deps.logger)
    await stop()

    const db = h.t.deps.db.kysely
    const rows = await db.selectFrom('messages').selectAll().where('id', 'in', [partial.id, empty.id, fresh.id]).execute()
    const byId = new Map(rows.map((r) => [r.id, r]))
    expect(byId.get(partial.id)).toMatchObject({ status: 'error', errorCode: 'INTERRUPTED_BY_RESTART', content: '北京是中国的首都' })
    expect(byId.get(empty.id)).toMatchObject({ status: 'error', errorCode: 'INTERRUPTED_BY_RESTART', content: '' })
    expect(byId.get(fresh.id)).toMatchObject({ status: 'streaming', content: 'so far' })

    const calls = await db.selectFrom('apiCalls').selectAll().where('userId', '=', alice.user.id).execute()
    expect(calls.map((c) => c.requestId).sort()).toEqual([`chat:${partial.id}`, `chat:${empty.id}`].sort())
    const partialCall = calls.find((c) => c.requestId === `chat:${partial.id}`)!
    expect(partialCall).toMatchObject({ status: 'error', errorCode: 'INTERRUPTED_BY_RESTART', usageEstimated: 1, model: 'qwen-plus', provider: 'dashscope' })
    expect(partialCall.completionTokens).toBeGreaterThanOrEqual(8)
    expect(partialCall.cost).toBeGreaterThan(0)
    expect(byId.get(partial.id)!.apiCallId).toBe(partialCall.id)
    expect(calls.find((c) => c.requestId === `chat:${empty.id}`)).toMatchObject({ completionTokens: 0, usageEstimated: 0 })

    // Running again (another instance booting) changes nothing and adds no second row.
    expect(await h.t.app.services.chat.sweepStale()).toBe(0)
    expect(await db.selectFrom('apiCalls').select('id').where('userId', '=', alice.user.id).execute()).toHaveLength(2)
  })

  it('links an existing api_calls row instead of adding a second one', async () => {
    const convo = await createConversation(h.t, alice.accessToken, { model: 'qwen-plus' })
    const base = { conversationId: convo.id, userId: alice.user.id }
    const q = await insertMessage(h.t, { ...base, role: 'user', content: 'hi', createdAt: ago(100_000) })
    const a = await insertMessage(h.t, { ...base, role: 'assistant', parentId: q.id, content: 'hel', status: 'streaming', createdAt: ago(99_000), updatedAt: ago(90_000) })
    const db = h.t.deps.db.kysely
    await db
      .insertInto('apiCalls')
      .values({
        id: 'existing-call-0000000000000000000001',
        requestId: `chat:${a.id}`,
        userId: alice.user.id,
        apiKeyId: null,
        source: 'web',
        provider: 'dashscope',
        channelId: null,
        model: 'qwen-plus',
        endpoint: 'chat',
        status: 'ok',
        httpStatus: 200,
        errorCode: null,
        promptTokens: 5,
        completionTokens: 1,
        cachedTokens: 0,
        reasoningTokens: 0,
        images: 0,
        usageEstimated: 0,
        cost: 1,
        latencyMs: 1,
        ttftMs: 1,
        upstreamRequestId: null,
        createdAt: ago(90_000),
      })
      .execute()
    expect(await h.t.app.services.chat.sweepStale()).toBe(1)
    const row = await db.selectFrom('messages').selectAll().where('id', '=', a.id).executeTakeFirstOrThrow()
    expect(row).toMatchObject({ status: 'error', apiCallId: 'existing-call-0000000000000000000001' })
    expect(await db.selectFrom('apiCalls').select('id').where('requestId', '=', `chat:${a.id}`).execute()).toHaveLength(1)
  })
})
