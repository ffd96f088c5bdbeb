import type { AddressInfo } from 'node:net'
import type { Message } from '@qiao/shared'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { countTokens } from '../../providers/emulator/index'
import { registerUser, type TestAccount } from '../auth/testing'
import { createConversation } from '../conversations/testing'
import { dashScopeWith, parseSse, rewireChat, startChatHarness, type ChatHarness } from './testing'

/**
 * Streaming faults over real HTTP: a browser that leaves (M1, H5), upstream timeouts (K4),
 * heartbeats (M3) and a graceful drain of live streams on shutdown (M3) — on SQLite and MariaDB.
 */

/** Reads an SSE response until `until(text)` holds; returns what was read. */
async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, until: (text: string) => boolean): Promise<string> {
  const decoder = new TextDecoder()
  let text = ''
  while (!until(text)) {
    const { value, done } = await reader.read()
    if (done) break
    text += decoder.decode(value, { stream: true })
  }
  return text
}

const deltaCount = (text: string) => (text.match(/event: delta/g) ?? []).length

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > until) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe.each(['sqlite', 'mysql'] as const)('chat streaming faults on %s', (dialect) => {
  let h: ChatHarness
  let alice: TestAccount
  let base: string

  beforeAll(async () => {
    // Slow enough chunks that a client can leave mid-answer.
    h = await startChatHarness(dialect, { chunkDelayMs: 25 })
    alice = await registerUser(h.t)
    await h.t.app.listen({ port: 0, host: '127.0.0.1' })
    base = `http://127.0.0.1:${(h.t.app.server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    await h.close()
  })
  afterEach(() => {
    h.emu.clearFaults()
    rewireChat(h.t)
  })

  const open = (conversationId: string, content: string, signal?: AbortSignal) =>
    fetch(`${base}/api/conversations/${conversationId}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alice.accessToken}`, accept: 'text/event-stream', 'content-type': 'application/json' },
      body: JSON.stringify({ content }),
      ...(signal ? { signal } : {}),
    })
  const messagesOf = (conversationId: string) =>
    h.t.deps.db.kysely.selectFrom('messages').selectAll().where('conversationId', '=', conversationId).orderBy('createdAt').orderBy('role', 'desc').execute()
  const callFor = (messageId: string) => h.t.deps.db.kysely.selectFrom('apiCalls').selectAll().where('requestId', '=', `chat:${messageId}`).execute()

  it('M1/H5: a browser that leaves mid-stream aborts the upstream at once; the answer is kept as interrupted, billed for at least what was delivered', async () => {
    const convo = await createConversation(h.t, alice.accessToken, { model: 'qwen-plus' })
    const controller = new AbortController()
    const res = await open(convo.id, 'Tell me a long story please', controller.signal)
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    const reader = res.body!.getReader()
    const seen = await readUntil(reader, (text) => deltaCount(text) >= 5)
    const delivered = parseSse(seen.slice(0, seen.lastIndexOf('\n\n') + 2))
      .filter((e) => e.event === 'delta')
      .map((e) => (e.data as { text?: string }).text ?? '')
      .join('')
    const upstream = h.emu.requests.at(-1)!
    controller.abort()

    // The upstream request is cancelled: the emulator saw its client leave before the ~60 remaining
    // chunks were sent (without the abort it would have finished and never be marked aborted).
    await waitFor(async () => (upstream.aborted ? true : undefined))
    const answer = await waitFor(async () => {
      const rows = await messagesOf(convo.id)
      return rows[1]?.status === 'streaming' ? undefined : rows[1]
    })
    expect(answer.status).toBe('interrupted')
    expect(answer.content.startsWith(delivered)).toBe(true)
    expect(answer.content.length).toBeGreaterThan(0)
    const calls = await callFor(answer.id)
    expect(calls).toHaveLength(1)
    expect(calls[0]).toMatchObject({ status: 'interrupted', httpStatus: 499, usageEstimated: 1, apiKeyId: null })
    expect(calls[0]!.completionTokens).toBeGreaterThanOrEqual(countTokens(answer.content))
    expect(calls[0]!.completionTokens).toBeGreaterThanOrEqual(countTokens(delivered))
    expect(calls[0]!.cost).toBeGreaterThan(0)
    expect(answer.apiCallId).toBe(calls[0]!.id)
  })

  it('M3: heartbeats flow while the upstream is slow to send its first byte', async () => {
    rewireChat(h.t, { chat: { heartbeatMs: 40 } })
    h.emu.inject({ type: 'slow_first_byte', delayMs: 400 })
    const convo = await createConversation(h.t, alice.accessToken, { model: 'qwen-plus' })
    const body = await (await open(convo.id, 'hello')).text()
    const names = parseSse(body).map((e) => e.event)
    const firstDelta = names.indexOf('delta')
    expect(names.slice(0, firstDelta).filter((n) => n === 'ping').length).toBeGreaterThanOrEqual(2)
    expect(names.at(-1)).toBe('done')
  })

  describe('K4: upstream timeouts end as UPSTREAM_TIMEOUT with the partial text and a usage row', () => {
    const cases = [
      { name: 'no first byte in time', fault: { type: 'slow_first_byte' as const, delayMs: 3_000 }, partial: false },
      { name: 'idle between chunks while keep-alive comments arrive', fault: { type: 'stall' as const, afterChunks: 3, delayMs: 3_000, keepAliveEveryMs: 50 }, partial: true },
    ]
    for (const c of cases) {
      it(c.name, async () => {
        rewireChat(h.t, { registry: { cacheTtlMs: 0, adapters: { dashscope: dashScopeWith({ timeouts: { firstByteMs: 300, idleMs: 300 }, retry: { maxRetries: 0 } }) } } })
        h.emu.inject(c.fault)
        const convo = await createConversation(h.t, alice.accessToken, { model: 'qwen-plus' })
        const events = parseSse(await (await open(convo.id, 'Tell me a long story please')).text()).filter((e) => e.event !== 'ping')
        const last = events.at(-1)!
        expect(last.event).toBe('error')
        const err = last.data as { code: string; partialMessage: Message }
        expect(err.code).toBe('UPSTREAM_TIMEOUT')
        const rows = await messagesOf(convo.id)
        expect(rows[0]!.status).toBe('complete')
        expect(rows[1]).toMatchObject({ status: 'error', errorCode: 'UPSTREAM_TIMEOUT' })
        expect(rows[1]!.content.length > 0).toBe(c.partial)
        expect(err.partialMessage.content).toBe(rows[1]!.content)
        const calls = await callFor(rows[1]!.id)
        expect(calls).toHaveLength(1)
        expect(calls[0]).toMatchObject({ status: 'error', errorCode: 'UPSTREAM_TIMEOUT' })
        if (c.partial) expect(calls[0]!.completionTokens).toBeGreaterThanOrEqual(countTokens(rows[1]!.content))
      })
    }

    it('the total-duration cap', async () => {
      rewireChat(h.t, { registry: { cacheTtlMs: 0, adapters: { dashscope: dashScopeWith({ timeouts: { totalMs: 500 }, retry: { maxRetries: 0 } }) } } })
      const convo = await createConversation(h.t, alice.accessToken, { model: 'qwen-plus' })
      const events = parseSse(await (await open(convo.id, 'Tell me a long story please')).text()).filter((e) => e.event !== 'ping')
      expect(events.at(-1)!.event).toBe('error')
      expect((events.at(-1)!.data as { code: string }).code).toBe('UPSTREAM_TIMEOUT')
      const rows = await messagesOf(convo.id)
      expect(rows[1]!.status).toBe('error')
      expect(rows[1]!.content.length).toBeGreaterThan(0)
      expect(await callFor(rows[1]!.id)).toHaveLength(1)
    })
  })

  it('saves the partial text while streaming, so a crash keeps it', async () => {
    rewireChat(h.t, { chat: { checkpointMs: 50 } })
    h.emu.inject({ type: 'stall', afterChunks: 4, delayMs: 1_000 })
    const convo = await createConversation(h.t, alice.accessToken, { model: 'qwen-plus' })
    const res = await open(convo.id, 'Tell me a long story please')
    const saved = await waitFor(async () => {
      const rows = await messagesOf(convo.id)
      return rows[1]?.status === 'streaming' && rows[1].content.length > 0 ? rows[1] : undefined
    })
    expect(saved.content.length).toBeGreaterThan(0)
    await res.text()
    expect((await messagesOf(convo.id))[1]!.status).toBe('complete')
  })
})

describe.each(['sqlite', 'mysql'] as const)('graceful shutdown on %s', (dialect) => {
  it('M3: app.close() with 20 live streams finalises every answer with its text and one api_calls row, and tells each client', async () => {
    const h = await startChatHarness(dialect, { chunkDelayMs: 30 })
    try {
      const alice = await registerUser(h.t)
      await h.t.app.listen({ port: 0, host: '127.0.0.1' })
      const base = `http://127.0.0.1:${(h.t.app.server.address() as AddressInfo).port}`
      const convos = await Promise.all(Array.from({ length: 20 }, () => createConversation(h.t, alice.accessToken, { model: 'qwen-plus' })))
      const streams = await Promise.all(
        convos.map(async (c) => {
          const res = await fetch(`${base}/api/conversations/${c.id}/messages`, {
            method: 'POST',
            headers: { authorization: `Bearer ${alice.accessToken}`, accept: 'text/event-stream', 'content-type': 'application/json' },
            body: JSON.stringify({ content: 'Tell me a long story please' }),
          })
          const reader = res.body!.getReader()
          const head = await readUntil(reader, (text) => deltaCount(text) >= 2)
          return { reader, head }
        }),
      )
      expect(h.t.app.services.chat.liveCount()).toBe(20)

      await h.t.app.close()

      const bodies = await Promise.all(streams.map(async (s) => s.head + (await readUntil(s.reader, () => false))))
      for (const body of bodies) {
        const events = parseSse(body).filter((e) => e.event !== 'ping')
        expect(events.at(-1)!.event).toBe('error')
        expect((events.at(-1)!.data as { code: string }).code).toBe('SERVICE_UNAVAILABLE')
      }
      const db = h.t.testDb.db.kysely
      const answers = await db.selectFrom('messages').selectAll().where('role', '=', 'assistant').execute()
      expect(answers).toHaveLength(20)
      for (const a of answers) {
        expect(a.status).toBe('interrupted')
        expect(a.errorCode).toBe('SERVER_SHUTDOWN')
        expect(a.content.length).toBeGreaterThan(0)
      }
      const calls = await db.selectFrom('apiCalls').selectAll().execute()
      expect(calls).toHaveLength(20)
      expect(new Set(calls.map((c) => c.requestId))).toEqual(new Set(answers.map((a) => `chat:${a.id}`)))
      for (const c of calls) {
        expect(c.status).toBe('interrupted')
        expect(c.completionTokens).toBeGreaterThan(0)
      }
      expect((await db.selectFrom('messages').select('id').where('status', '=', 'streaming').execute()).length).toBe(0)
    } finally {
      await h.emu.close()
      await h.t.testDb.drop()
    }
  })
})
