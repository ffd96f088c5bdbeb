import { DEFAULT_CONVERSATION_TITLE, type Message, type TurnUsage } from '@qiao/shared'
import { sql } from 'kysely'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { countTokens } from '../../providers/emulator/index'
import type { ChatEvent } from '../../providers/types'
import { bearer, registerUser, type TestAccount } from '../auth/testing'
import { createConversation } from '../conversations/testing'
import { parseSse, startChatHarness, uploadImage, type ChatHarness } from './testing'
import { turnCost } from './tokens'

/** The chat turn end to end through the app, the real adapters and the emulator — on SQLite and MariaDB. */

interface DoneData {
  message: Message
  usage: TurnUsage
}
interface ErrorData {
  code: string
  message: string
  partialMessage?: Message
}

const SSE = { accept: 'text/event-stream' }

describe.each(['sqlite', 'mysql'] as const)('chat turn on %s', (dialect) => {
  let h: ChatHarness
  let alice: TestAccount
  let bob: TestAccount

  beforeAll(async () => {
    h = await startChatHarness(dialect)
    ;[alice, bob] = await Promise.all([registerUser(h.t), registerUser(h.t)])
  })
  afterAll(async () => {
    await h.close()
  })
  afterEach(() => {
    h.emu.clearFaults()
  })

  const send = (conversationId: string, payload: object, opts: { token?: string; sse?: boolean; headers?: Record<string, string> } = {}) =>
    h.t.inject({
      method: 'POST',
      url: `/api/conversations/${conversationId}/messages`,
      headers: { ...bearer(opts.token ?? alice.accessToken), ...(opts.sse === false ? {} : SSE), ...opts.headers },
      payload,
    })
  const messagesOf = (conversationId: string) =>
    h.t.deps.db.kysely.selectFrom('messages').selectAll().where('conversationId', '=', conversationId).orderBy('createdAt').orderBy('role', 'desc').execute()
  const apiCallsOf = (userId: string) => h.t.deps.db.kysely.selectFrom('apiCalls').selectAll().where('userId', '=', userId).orderBy('createdAt').execute()
  const chatRequests = () => h.emu.requests.filter((r) => r.path.endsWith('/chat/completions'))

  /** What the same upstream answers for these messages when asked directly (the reference). */
  async function direct(messages: Array<{ role: 'system' | 'user' | 'assistant'; content: string }>, thinking = false) {
    let text = ''
    let reasoning = ''
    let usage: Extract<ChatEvent, { type: 'usage' }> | undefined
    for await (const e of h.t.app.services.providers.chat('qwen-plus', { messages, ...(thinking ? { thinking } : {}) }).events) {
      if (e.type === 'text') text += e.delta
      if (e.type === 'reasoning') reasoning += e.delta
      if (e.type === 'usage') usage = e
    }
    return { text, reasoning, usage: usage! }
  }

  it('streams message, message, deltas, done — the exact upstream text, its usage and one priced api_calls row', async () => {
    const convo = await createConversation(h.t, alice.accessToken, { model: 'qwen-plus', systemPrompt: 'Be brief.' })
    const before = (await apiCallsOf(alice.user.id)).length
    const res = await send(convo.id, { content: 'Hello there, who are you?' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8')
    expect(res.headers['cache-control']).toBe('no-cache, no-transform')
    expect(res.headers['x-accel-buffering']).toBe('no')
    expect(res.headers['x-request-id']).toBeTruthy()
    expect(res.headers['x-content-type-options']).toBe('nosniff')
    expect(res.headers['content-security-policy']).toContain("default-src 'self'")

    const events = parseSse(res.body)
    const names = events.map((e) => e.event).filter((n) => n !== 'ping')
    expect(names[0]).toBe('message')
    expect(names[1]).toBe('message')
    expect(names.at(-1)).toBe('done')
    expect(names.slice(2, -1).every((n) => n === 'delta')).toBe(true)
    expect(names.filter((n) => n === 'delta').length).toBeGreaterThan(1)

    const user = (events[0]!.data as { message: Message }).message
    const pending = (events[1]!.data as { message: Message }).message
    expect(user).toMatchObject({ role: 'user', content: 'Hello there, who are you?', status: 'complete', parentId: null })
    expect(pending).toMatchObject({ role: 'assistant', status: 'streaming', parentId: user.id, model: 'qwen-plus' })

    const streamed = events.filter((e) => e.event === 'delta').map((e) => (e.data as { text?: string }).text ?? '').join('')
    const ref = await direct([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hello there, who are you?' },
    ])
    expect(streamed).toBe(ref.text)

    const done = events.at(-1)!.data as DoneData
    expect(done.message).toMatchObject({ id: pending.id, status: 'complete', content: ref.text })
    expect(done.usage.promptTokens).toBe(ref.usage.inputTokens)
    expect(done.usage.completionTokens).toBe(ref.usage.outputTokens)
    expect(done.usage.completionTokens).toBe(countTokens(ref.text))
    const model = await h.t.app.services.providers.getModel('qwen-plus')
    expect(done.usage.cost).toBe(turnCost(model.prices, ref.usage.inputTokens, ref.usage.outputTokens))
    expect(done.usage.cost).toBeGreaterThan(0)

    const rows = await messagesOf(convo.id)
    expect(rows.map((r) => [r.role, r.status])).toEqual([
      ['user', 'complete'],
      ['assistant', 'complete'],
    ])
    const answer = rows[1]!
    expect(answer.content).toBe(ref.text)
    const calls = await apiCallsOf(alice.user.id)
    expect(calls).toHaveLength(before + 1)
    const call = calls.at(-1)!
    expect(answer.apiCallId).toBe(call.id)
    expect(call).toMatchObject({
      requestId: `chat:${answer.id}`,
      source: 'web',
      provider: 'dashscope',
      model: 'qwen-plus',
      endpoint: 'chat',
      status: 'ok',
      httpStatus: 200,
      errorCode: null,
      promptTokens: ref.usage.inputTokens,
      completionTokens: ref.usage.outputTokens,
      usageEstimated: 0,
      cost: done.usage.cost,
    })
    expect(call.channelId).toBeTruthy()
    expect(call.upstreamRequestId).toBeTruthy()
    expect(call.latencyMs).toBeGreaterThanOrEqual(0)
    expect(call.ttftMs).toBeGreaterThanOrEqual(0)
    expect(answer).toMatchObject({ promptTokens: call.promptTokens, completionTokens: call.completionTokens, cost: call.cost })

    // The first exchange names the conversation and shows the latest text in the list.
    const after = (await h.t.inject({ method: 'GET', url: `/api/conversations/${convo.id}`, headers: bearer(alice.accessToken) })).json<{ title: string; lastMessagePreview: string }>()
    expect(after.title).toBe('Hello there, who are you?')
    expect(after.lastMessagePreview).toBe(ref.text.replace(/\s+/g, ' ').trim().slice(0, 120))
  })

  it('answers JSON without Accept: text/event-stream, continuing the branch with its history', async () => {
    const convo = await createConversation(h.t, alice.accessToken, { model: 'qwen-plus' })
    const first = await send(convo.id, { content: 'First question' }, { sse: false })
    expect(first.statusCode).toBe(200)
    const a = first.json<{ userMessage: Message; assistantMessage: Message; usage: TurnUsage }>()
    expect(a.assistantMessage.status).toBe('complete')
    expect(a.usage.completionTokens).toBe(countTokens(a.assistantMessage.content))

    const second = await send(convo.id, { content: 'Second question' }, { sse: false })
    const b = second.json<{ userMessage: Message; assistantMessage: Message }>()
    expect(b.userMessage.parentId).toBe(a.assistantMessage.id)
    const ref = await direct([
      { role: 'user', content: 'First question' },
      { role: 'assistant', content: a.assistantMessage.content },
      { role: 'user', content: 'Second question' },
    ])
    expect(b.assistantMessage.content).toBe(ref.text)
    const sent = JSON.parse(chatRequests().at(-2)!.body) as { messages: Array<{ role: string; content: string }> }
    expect(sent.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user'])
  })

  it('streams reasoning deltas before the answer when thinking is on', async () => {
    const convo = await createConversation(h.t, alice.accessToken, { model: 'qwen-plus' })
    const res = await send(convo.id, { content: 'Think about 2+2', thinking: true })
    const events = parseSse(res.body)
    const deltas = events.filter((e) => e.event === 'delta').map((e) => e.data as { text?: string; reasoning?: string })
    const firstText = deltas.findIndex((d) => d.text !== undefined)
    expect(deltas.findIndex((d) => d.reasoning !== undefined)).toBe(0)
    expect(deltas.slice(firstText).every((d) => d.text !== undefined)).toBe(true)
    const ref = await direct([{ role: 'user', content: 'Think about 2+2' }], true)
    const done = events.at(-1)!.data as DoneData
    expect(deltas.map((d) => d.reasoning ?? '').join('')).toBe(ref.reasoning)
    expect(done.message.reasoning).toBe(ref.reasoning)
    expect(done.message.content).toBe(ref.text)
    const call = (await apiCallsOf(alice.user.id)).at(-1)!
    expect(call.reasoningTokens).toBe(ref.usage.reasoningTokens)
    expect(call.reasoningTokens).toBeGreaterThan(0)
  })

  describe('upstream failure before the first token keeps the user message (invariant 1)', () => {
    const cases = [
      { name: '429 after retries', fault: { type: 'http_error' as const, status: 429 }, code: 'UPSTREAM_RATE_LIMITED', status: 429 },
      { name: '500 after retries', fault: { type: 'http_error' as const, status: 500 }, code: 'UPSTREAM_UNAVAILABLE', status: 503 },
      { name: '400 from the upstream', fault: { type: 'http_error' as const, status: 400, code: 'InvalidParameter', message: 'Range of input length should be [1, 30720]' }, code: 'UPSTREAM_BAD_REQUEST', status: 422 },
    ]
    for (const c of cases) {
      it(`${c.name}: error event, user message kept, assistant stored as error, one api_calls row`, async () => {
        const convo = await createConversation(h.t, alice.accessToken, { model: 'qwen-plus' })
        h.emu.inject(c.fault, { times: 100 })
        const before = (await apiCallsOf(alice.user.id)).length
        const res = await send(convo.id, { content: `Will fail: ${c.name}` })
        const events = parseSse(res.body).filter((e) => e.event !== 'ping')
        expect(events.map((e) => e.event)).toEqual(['message', 'message', 'error'])
        const err = events[2]!.data as ErrorData
        expect(err.code).toBe(c.code)
        expect(err.partialMessage).toMatchObject({ status: 'error', content: '', error: { code: c.code } })

        const rows = await messagesOf(convo.id)
        expect(rows.map((r) => [r.role, r.status, r.content])).toEqual([
          ['user', 'complete', `Will fail: ${c.name}`],
          ['assistant', 'error', ''],
        ])
        expect(rows[1]!.errorCode).toBe(c.code)
        const calls = await apiCallsOf(alice.user.id)
        expect(calls).toHaveLength(before + 1)
        expect(calls.at(-1)).toMatchObject({ status: 'error', errorCode: c.code, completionTokens: 0, promptTokens: 0, cost: 0, usageEstimated: 0 })

        // JSON mode answers with the mapped status, and stores the messages all the same.
        h.emu.inject(c.fault, { times: 100 })
        const json = await send(convo.id, { content: 'Again, as JSON' }, { sse: false })
        expect(json.statusCode).toBe(c.status)
        expect(json.json<{ error: { code: string } }>().error.code).toBe(c.code)
        expect((await messagesOf(convo.id)).filter((r) => r.content === 'Again, as JSON')).toHaveLength(1)
      })
    }
  })

  it('M2: an upstream cut after N chunks → error event with the partial message; stored as error with its text and one estimated api_calls row', async () => {
    const convo = await createConversation(h.t, alice.accessToken, { model: 'qwen-plus' })
    h.emu.inject({ type: 'cut', afterChunks: 4 })
    const before = (await apiCallsOf(alice.user.id)).length
    const requestsBefore = chatRequests().length
    const res = await send(convo.id, { content: 'Please write something long' })
    const events = parseSse(res.body).filter((e) => e.event !== 'ping')
    expect(events.at(-1)!.event).toBe('error')
    expect(events.some((e) => e.event === 'done')).toBe(false)
    const streamed = events.filter((e) => e.event === 'delta').map((e) => (e.data as { text?: string }).text ?? '').join('')
    expect(streamed.length).toBeGreaterThan(0)
    const err = events.at(-1)!.data as ErrorData
    expect(err.code).toBe('UPSTREAM_UNAVAILABLE')
    expect(err.partialMessage).toMatchObject({ status: 'error', content: streamed })

    const rows = await messagesOf(convo.id)
    expect(rows[1]).toMatchObject({ status: 'error', content: streamed, errorCode: 'UPSTREAM_UNAVAILABLE' })
    const calls = await apiCallsOf(alice.user.id)
    expect(calls).toHaveLength(before + 1)
    const call = calls.at(-1)!
    expect(call).toMatchObject({ status: 'error', usageEstimated: 1, errorCode: 'UPSTREAM_UNAVAILABLE' })
    // Usage is never silently zero: at least what was delivered (H5), and priced.
    expect(call.completionTokens).toBeGreaterThanOrEqual(countTokens(streamed))
    expect(call.promptTokens).toBeGreaterThan(0)
    expect(call.cost).toBeGreaterThan(0)
    // No silent re-generation after the first token.
    expect(chatRequests().length).toBe(requestsBefore + 1)
  })

  it('E3: a hostile upstream (event: execute, <script>, extra fields) only ever reaches the client as text deltas', async () => {
    const convo = await createConversation(h.t, alice.accessToken, { model: 'qwen-plus' })
    const raw =
      'event: execute\ndata: {"cmd":"rm -rf /"}\n\n' +
      'data: {"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"<script>alert(1)</script>","x_evil":"1","tool_calls":[{"index":0,"id":"t","type":"function","function":{"name":"exec","arguments":"{}"}}]}}],"injected":"<img src=x onerror=alert(1)>"}\n\n'
    h.emu.inject({ type: 'raw_event', afterChunks: 2, raw })
    const res = await send(convo.id, { content: 'Hello hostile world' })
    expect(res.body).not.toContain('event: execute')
    expect(res.body).not.toContain('rm -rf')
    expect(res.body).not.toContain('x_evil')
    expect(res.body).not.toContain('onerror')
    expect(res.body).not.toContain('exec')
    const events = parseSse(res.body)
    for (const e of events) expect(['message', 'delta', 'done', 'error', 'ping']).toContain(e.event)
    for (const e of events.filter((x) => x.event === 'delta')) {
      expect(Object.keys(e.data as object).every((k) => k === 'text' || k === 'reasoning')).toBe(true)
    }
    // The markup arrives as inert text inside JSON, which the client renders as text.
    const text = events.filter((e) => e.event === 'delta').map((e) => (e.data as { text?: string }).text ?? '').join('')
    expect(text).toContain('<script>alert(1)</script>')
    expect(res.body.split('\n').filter((l) => l.startsWith('data:')).every((l) => !l.includes('\n'))).toBe(true)
  })

  it('C2: another user cannot send into the conversation — 404, nothing appended, no upstream call', async () => {
    const convo = await createConversation(h.t, alice.accessToken, { model: 'qwen-plus' })
    await send(convo.id, { content: 'Mine' }, { sse: false })
    const rowsBefore = await messagesOf(convo.id)
    const upstreamBefore = h.emu.requests.length
    for (const sse of [true, false]) {
      const res = await send(convo.id, { content: 'Hijack' }, { token: bob.accessToken, sse })
      expect(res.statusCode).toBe(404)
      expect(res.json<{ error: { code: string } }>().error.code).toBe('NOT_FOUND')
    }
    const regen = await h.t.inject({
      method: 'POST',
      url: `/api/conversations/${convo.id}/messages/${rowsBefore[1]!.id}/regenerate`,
      headers: { ...bearer(bob.accessToken), ...SSE },
      payload: {},
    })
    expect(regen.statusCode).toBe(404)
    expect(await messagesOf(convo.id)).toEqual(rowsBefore)
    expect(h.emu.requests.length).toBe(upstreamBefore)
    expect(await apiCallsOf(bob.user.id)).toHaveLength(0)
  })

  it('C4: attaching another user’s file is 404 and its bytes never reach the prompt; one’s own image does', async () => {
    const file = await uploadImage(h.t, alice.accessToken)
    const bobs = await createConversation(h.t, bob.accessToken, { model: 'qwen-vl-plus' })
    const upstreamBefore = h.emu.requests.length
    const res = await send(bobs.id, { content: 'What is in this picture?', attachments: [file.id] }, { token: bob.accessToken })
    expect(res.statusCode).toBe(404)
    expect(await messagesOf(bobs.id)).toHaveLength(0)
    expect(h.emu.requests.length).toBe(upstreamBefore)

    // A text-only model refuses images before anything is stored.
    const alices = await createConversation(h.t, alice.accessToken, { model: 'qwen-plus' })
    const textOnly = await send(alices.id, { content: 'Look', attachments: [file.id] })
    expect(textOnly.statusCode).toBe(400)
    expect(await messagesOf(alices.id)).toHaveLength(0)

    const ok = await send(alices.id, { content: 'What is in this picture?', attachments: [file.id], model: 'qwen-vl-plus' })
    const done = parseSse(ok.body).at(-1)!
    expect(done.event).toBe('done')
    const user = (parseSse(ok.body)[0]!.data as { message: Message }).message
    expect(user.parts).toEqual([{ type: 'image', fileId: file.id, url: `/api/files/${file.id}/content`, mime: 'image/png', name: 'pic.png' }])
    const sent = JSON.parse(chatRequests().at(-1)!.body) as { messages: Array<{ content: unknown }> }
    expect(JSON.stringify(sent.messages.at(-1)!.content)).toContain('data:image/png;base64,')
    expect((done.data as DoneData).message.content).toMatch(/png/i)
  })

  it('regenerate makes a sibling answer on a new branch; edit-and-resend makes a sibling user message', async () => {
    const convo = await createConversation(h.t, alice.accessToken, { model: 'qwen-plus' })
    const t1 = (await send(convo.id, { content: 'One' }, { sse: false })).json<{ userMessage: Message; assistantMessage: Message }>()
    const t2 = (await send(convo.id, { content: 'Two' }, { sse: false })).json<{ userMessage: Message; assistantMessage: Message }>()

    // Regenerate by the assistant id, then by its user message id: both answer "Two" again.
    const r1 = await h.t.inject({
      method: 'POST',
      url: `/api/conversations/${convo.id}/messages/${t2.assistantMessage.id}/regenerate`,
      headers: { ...bearer(alice.accessToken), ...SSE },
      payload: {},
    })
    const r1Events = parseSse(r1.body).filter((e) => e.event !== 'ping')
    expect(r1Events.map((e) => e.event).slice(0, 2)).toEqual(['message', 'message'])
    expect((r1Events[0]!.data as { message: Message }).message.id).toBe(t2.userMessage.id)
    const regenerated = (r1Events.at(-1)!.data as DoneData).message
    expect(regenerated.parentId).toBe(t2.userMessage.id)
    expect(regenerated.id).not.toBe(t2.assistantMessage.id)
    const sent = JSON.parse(chatRequests().at(-1)!.body) as { messages: Array<{ role: string; content: string }> }
    expect(sent.messages.map((m) => m.content)).toEqual(['One', t1.assistantMessage.content, 'Two'])

    const r2 = await h.t.inject({
      method: 'POST',
      url: `/api/conversations/${convo.id}/messages/${t2.userMessage.id}/regenerate`,
      headers: bearer(alice.accessToken),
    })
    expect(r2.statusCode).toBe(200)
    expect(r2.json<{ assistantMessage: Message }>().assistantMessage.parentId).toBe(t2.userMessage.id)

    const branch = await h.t.inject({ method: 'GET', url: `/api/conversations/${convo.id}/messages`, headers: bearer(alice.accessToken) })
    const items = branch.json<{ items: Message[] }>().items
    expect(items.at(-1)!.siblingIds).toHaveLength(3)
    expect(items.at(-1)!.id).toBe(r2.json<{ assistantMessage: Message }>().assistantMessage.id)

    // Edit "Two": a new user message under the first answer, with only the history before it.
    const edit = (await send(convo.id, { content: 'Two, edited', parentId: t1.assistantMessage.id }, { sse: false })).json<{ userMessage: Message; assistantMessage: Message }>()
    expect(edit.userMessage.parentId).toBe(t1.assistantMessage.id)
    const editSent = JSON.parse(chatRequests().at(-1)!.body) as { messages: Array<{ role: string; content: string }> }
    expect(editSent.messages.map((m) => m.content)).toEqual(['One', t1.assistantMessage.content, 'Two, edited'])
    // Edit the very first message: parentId null starts a new root.
    const root = (await send(convo.id, { content: 'One, edited', parentId: null }, { sse: false })).json<{ userMessage: Message }>()
    expect(root.userMessage.parentId).toBeNull()
    const rootSent = JSON.parse(chatRequests().at(-1)!.body) as { messages: unknown[] }
    expect(rootSent.messages).toHaveLength(1)

    // A user message cannot be a parent; a foreign id is 404.
    expect((await send(convo.id, { content: 'x', parentId: t1.userMessage.id }, { sse: false })).statusCode).toBe(400)
    expect((await send(convo.id, { content: 'x', parentId: 'nope-not-an-id' }, { sse: false })).statusCode).toBe(404)
  })

  it('trims the oldest turns to fit the context window, keeping the system prompt and the new message', async () => {
    const model = 'qwen-max'
    await h.t.deps.db.kysely.updateTable('models').set({ contextWindow: 400, maxOutputTokens: 100 }).where('id', '=', model).execute()
    h.t.app.services.providers.invalidate()
    try {
      const convo = await createConversation(h.t, alice.accessToken, { model, systemPrompt: 'You are terse.' })
      const words = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}`).join(' ')
      for (const tag of ['alpha', 'beta', 'gamma']) {
        const res = await send(convo.id, { content: words(60, tag) }, { sse: false })
        expect(res.statusCode).toBe(200)
      }
      const sent = JSON.parse(chatRequests().at(-1)!.body) as { messages: Array<{ role: string; content: string }> }
      expect(sent.messages[0]).toEqual({ role: 'system', content: 'You are terse.' })
      expect(sent.messages.at(-1)!.content).toBe(words(60, 'gamma'))
      expect(sent.messages.some((m) => m.content.startsWith('alpha0'))).toBe(false)
      expect(sent.messages[1]!.role).toBe('user')
    } finally {
      await h.t.deps.db.kysely.updateTable('models').set({ contextWindow: 32_768, maxOutputTokens: 8_192 }).where('id', '=', model).execute()
      h.t.app.services.providers.invalidate()
    }
  })

  it('M2: a repeated Idempotency-Key replays the first answer without a second upstream call', async () => {
    const convo = await createConversation(h.t, alice.accessToken, { model: 'qwen-plus' })
    const headers = { 'idempotency-key': `double-click-${convo.id}` }
    const first = await send(convo.id, { content: 'Only once please' }, { sse: false, headers })
    const requests = chatRequests().length
    const again = await send(convo.id, { content: 'Only once please' }, { sse: false, headers })
    expect(again.statusCode).toBe(200)
    expect(again.json<{ assistantMessage: Message }>().assistantMessage).toEqual(first.json<{ assistantMessage: Message }>().assistantMessage)
    const sse = parseSse((await send(convo.id, { content: 'Only once please' }, { headers })).body)
    expect(sse.map((e) => e.event)).toEqual(['message', 'message', 'done'])
    expect(chatRequests().length).toBe(requests)
    expect(await messagesOf(convo.id)).toHaveLength(2)
    // Another user with the same key is not affected.
    const bobs = await createConversation(h.t, bob.accessToken, { model: 'qwen-plus' })
    expect((await send(bobs.id, { content: 'Mine' }, { token: bob.accessToken, sse: false, headers })).statusCode).toBe(200)
    expect((await send(convo.id, { content: 'x' }, { sse: false, headers: { 'idempotency-key': 'bad key with spaces' } })).statusCode).toBe(400)
  })

  it('refuses unknown and disabled models, and empty messages, before storing anything', async () => {
    const convo = await createConversation(h.t, alice.accessToken)
    expect((await send(convo.id, { content: 'hi', model: 'no-such-model' }, { sse: false })).json<{ error: { code: string } }>().error.code).toBe('MODEL_NOT_FOUND')
    await h.t.deps.db.kysely.updateTable('models').set({ enabled: 0 }).where('id', '=', 'qwen-max').execute()
    h.t.app.services.providers.invalidate()
    const disabled = await send(convo.id, { content: 'hi', model: 'qwen-max' })
    expect(disabled.statusCode).toBe(422)
    expect(disabled.json<{ error: { code: string } }>().error.code).toBe('MODEL_DISABLED')
    await h.t.deps.db.kysely.updateTable('models').set({ enabled: 1 }).where('id', '=', 'qwen-max').execute()
    h.t.app.services.providers.invalidate()
    expect((await send(convo.id, { content: '   ' }, { sse: false })).statusCode).toBe(400)
    expect(await messagesOf(convo.id)).toHaveLength(0)
    // No model anywhere: the first enabled chat model the channels serve.
    const ok = await send(convo.id, { content: 'hi' }, { sse: false })
    expect(ok.json<{ assistantMessage: Message }>().assistantMessage.model).toBe('qwen-plus')
  })

  it('keeps the default title only until the first exchange, and never overrides a rename', async () => {
    const convo = await createConversation(h.t, alice.accessToken, { model: 'qwen-plus' })
    expect(convo.title).toBe(DEFAULT_CONVERSATION_TITLE)
    await send(convo.id, { content: '\n  请帮我规划一次去北京的三天旅行，包括交通、住宿和美食推荐\nsecond line' }, { sse: false })
    const named = (await h.t.inject({ method: 'GET', url: `/api/conversations/${convo.id}`, headers: bearer(alice.accessToken) })).json<{ title: string }>()
    expect([...named.title].length).toBeLessThanOrEqual(30)
    expect(named.title.startsWith('请帮我规划一次去北京的三天旅行')).toBe(true)
    await send(convo.id, { content: 'Another topic' }, { sse: false })
    const still = (await h.t.inject({ method: 'GET', url: `/api/conversations/${convo.id}`, headers: bearer(alice.accessToken) })).json<{ title: string }>()
    expect(still.title).toBe(named.title)
  })

  it('L1: when the message cannot be stored → 503 and no upstream call', async () => {
    const convo = await createConversation(h.t, alice.accessToken, { model: 'qwen-plus' })
    const db = h.t.deps.db
    const create =
      dialect === 'sqlite'
        ? "CREATE TRIGGER chat_test_down BEFORE INSERT ON messages BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
        : "CREATE TRIGGER chat_test_down BEFORE INSERT ON messages FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'disk I/O error'"
    await sql.raw(create).execute(db.kysely)
    const upstreamBefore = h.emu.requests.length
    try {
      for (const sse of [true, false]) {
        const res = await send(convo.id, { content: 'Will not be stored' }, { sse })
        expect(res.statusCode).toBe(503)
        expect(res.json<{ error: { code: string } }>().error.code).toBe('SERVICE_UNAVAILABLE')
      }
    } finally {
      await sql.raw('DROP TRIGGER chat_test_down').execute(db.kysely)
    }
    expect(h.emu.requests.length).toBe(upstreamBefore)
    expect(await messagesOf(convo.id)).toHaveLength(0)
  })
})
