import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bearer, promote, registerUser, type TestAccount } from '../auth/testing'
import { startChatHarness, type ChatHarness } from '../chat/testing'
import { createConversation } from '../conversations/testing'

/** SECURITY.md G4 through the chat route: one user's concurrent answers are capped, before anything is stored. */
describe('concurrent stream cap on the chat route', () => {
  let h: ChatHarness
  let alice: TestAccount
  let base: string

  beforeAll(async () => {
    h = await startChatHarness('sqlite', { chunkDelayMs: 20 })
    const admin = await registerUser(h.t)
    await promote(h.t, admin.user.id)
    const res = await h.t.inject({
      method: 'PATCH',
      url: '/api/admin/settings',
      headers: bearer(admin.accessToken),
      payload: { rateLimits: { maxConcurrentStreams: 3 } },
    })
    expect(res.statusCode).toBe(200)
    alice = await registerUser(h.t)
    base = await h.t.app.listen({ port: 0, host: '127.0.0.1' })
  })
  afterAll(async () => {
    await h.close()
  })

  const send = (conversationId: string) =>
    fetch(`${base}/api/conversations/${conversationId}/messages`, {
      method: 'POST',
      headers: { ...bearer(alice.accessToken), accept: 'text/event-stream', 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'Tell me a long story about a bridge over a river, please.' }),
    })

  it('admits the cap, answers 429 beyond it without storing the message, and frees slots when answers end', async () => {
    const convos = await Promise.all(Array.from({ length: 5 }, () => createConversation(h.t, alice.accessToken, { model: 'qwen-plus' })))
    const live = await Promise.all(convos.slice(0, 3).map((c) => send(c.id)))
    expect(live.map((r) => r.status)).toEqual([200, 200, 200])
    // Wait until each stream has begun answering: the slots are held now.
    const readers = live.map((r) => r.body!.getReader())
    const decoder = new TextDecoder()
    const texts = ['', '', '']
    await Promise.all(
      readers.map(async (reader, i) => {
        while (!texts[i]!.includes('event: delta')) {
          const { value, done } = await reader.read()
          if (done) break
          texts[i] += decoder.decode(value, { stream: true })
        }
      }),
    )

    const denied = await send(convos[3]!.id)
    expect(denied.status).toBe(429)
    expect(((await denied.json()) as { error: { code: string } }).error.code).toBe('RATE_LIMITED')
    expect(Number(denied.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(denied.headers.get('x-ratelimit-limit')).toBe('3')
    expect(denied.headers.get('x-ratelimit-remaining')).toBe('0')
    const stored = await h.t.deps.db.kysely.selectFrom('messages').select('id').where('conversationId', '=', convos[3]!.id).execute()
    expect(stored).toEqual([])

    // Let the three answers finish; their slots are released and the next one is admitted.
    await Promise.all(
      readers.map(async (reader) => {
        for (;;) if ((await reader.read()).done) break
      }),
    )
    const next = await send(convos[4]!.id)
    expect(next.status).toBe(200)
    expect(await next.text()).toContain('event: done')
  })
})
