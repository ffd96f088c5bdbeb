import { DEFAULT_CONVERSATION_TITLE, type Conversation, type Message } from '@qiao/shared'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestApp, type TestApp } from '../../test/app'
import { testDialects } from '../../test/services'
import { bearer, registerUser, type TestAccount } from '../auth/testing'
import { at, createConversation, insertMessage } from './testing'

/** Conversations: CRUD, list order and paging, branches, export, search, tenancy — on every dialect. */
describe.each(testDialects())('conversations on %s', (dialect) => {
  let t: TestApp
  let alice: TestAccount
  let bob: TestAccount
  // A clock that only moves forward, so "most recent" never ties within a millisecond.
  let tick = Date.now()
  beforeAll(async () => {
    t = await createTestApp({ dialect, deps: { now: () => new Date((tick += 10)) } })
    ;[alice, bob] = await Promise.all([registerUser(t), registerUser(t)])
  })
  afterAll(async () => {
    await t.close()
  })

  const get = (url: string, token = alice.accessToken) => t.inject({ method: 'GET', url, headers: bearer(token) })
  const patch = (id: string, payload: object, token = alice.accessToken) =>
    t.inject({ method: 'PATCH', url: `/api/conversations/${id}`, headers: bearer(token), payload })
  const ids = (res: { json(): { items: Array<{ id: string }> } }) => res.json().items.map((c) => c.id)

  it('creates, reads, renames, pins, archives and deletes a conversation', async () => {
    const created = await createConversation(t, alice.accessToken, { model: 'qwen-plus', systemPrompt: 'Be brief.' })
    expect(created).toMatchObject({
      title: DEFAULT_CONVERSATION_TITLE,
      model: 'qwen-plus',
      systemPrompt: 'Be brief.',
      pinned: false,
      archived: false,
      lastMessagePreview: null,
    })
    expect(created.id).toHaveLength(36)
    expect((await get(`/api/conversations/${created.id}`)).json()).toEqual(created)

    const renamed = await patch(created.id, { title: '  旅行\n计划  ', pinned: true, model: null, systemPrompt: null })
    expect(renamed.statusCode).toBe(200)
    // Line breaks cannot sneak into a one-line title; renaming is not activity.
    expect(renamed.json()).toMatchObject({
      title: '旅行 计划',
      pinned: true,
      model: null,
      systemPrompt: null,
      updatedAt: created.updatedAt,
    })

    expect((await patch(created.id, { archived: true })).json().archived).toBe(true)
    expect(ids(await get('/api/conversations'))).not.toContain(created.id)
    expect(ids(await get('/api/conversations?archived=true'))).toContain(created.id)

    await insertMessage(t, {
      conversationId: created.id,
      userId: alice.user.id,
      role: 'user',
      content: 'hi',
      createdAt: at(1),
    })
    const del = await t.inject({
      method: 'DELETE',
      url: `/api/conversations/${created.id}`,
      headers: bearer(alice.accessToken),
    })
    expect(del.statusCode).toBe(204)
    expect((await get(`/api/conversations/${created.id}`)).statusCode).toBe(404)
    const left = await t.deps.db.kysely
      .selectFrom('messages')
      .select('id')
      .where('conversationId', '=', created.id)
      .execute()
    expect(left).toEqual([])
  })

  it('D2: refuses unknown fields, over-long titles and empty models', async () => {
    const post = (payload: object) =>
      t.inject({ method: 'POST', url: '/api/conversations', headers: bearer(alice.accessToken), payload })
    for (const payload of [
      { title: 'x', admin: true },
      { title: 'x'.repeat(201) },
      { model: '' },
      { systemPrompt: 'x'.repeat(20_001) },
    ]) {
      const res = await post(payload)
      expect(res.statusCode).toBe(400)
      expect(res.json().error.code).toBe('VALIDATION_FAILED')
    }
    const c = await createConversation(t, alice.accessToken)
    expect((await patch(c.id, { userId: bob.user.id })).statusCode).toBe(400)
    expect((await patch(c.id, { pinned: 'yes' })).statusCode).toBe(400)
    expect((await get('/api/conversations?limit=101')).statusCode).toBe(400)
    expect((await get('/api/conversations?cursor=not-a-cursor')).statusCode).toBe(400)
    expect((await get('/api/conversations?archived=maybe')).statusCode).toBe(400)
  })

  it('lists pinned first, then most recently active, in cursor pages', async () => {
    const user = await registerUser(t)
    const make = (title: string) => createConversation(t, user.accessToken, { title })
    const a = await make('A')
    const b = await make('B')
    const c = await make('C')
    const d = await make('D')
    const e = await make('E')
    // Activity on A makes it the most recent; B is pinned and stays on top regardless.
    await t.app.services.conversations.touch({ userId: user.user.id, id: a.id, preview: 'later' })
    expect((await patch(b.id, { pinned: true }, user.accessToken)).statusCode).toBe(200)
    const expected = [b.id, a.id, e.id, d.id, c.id]

    const all = await get('/api/conversations', user.accessToken)
    expect(ids(all)).toEqual(expected)
    expect(all.json().nextCursor).toBeNull()

    const seen: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const res = await get(`/api/conversations?limit=2${cursor ? `&cursor=${cursor}` : ''}`, user.accessToken)
      expect(res.statusCode).toBe(200)
      expect(res.json().items.length).toBeLessThanOrEqual(2)
      seen.push(...ids(res))
      cursor = res.json().nextCursor
      pages++
    } while (cursor && pages < 10)
    expect(seen).toEqual(expected)
    expect(pages).toBe(3)
  })

  it('touch sets the preview and names only a conversation that still has the default title', async () => {
    const c = await createConversation(t, alice.accessToken)
    const s = t.app.services.conversations
    const long = `${'很长的消息'.repeat(30)}\n\nend`
    const touched = await s.touch({ userId: alice.user.id, id: c.id, preview: long, title: '北京旅行' })
    expect(touched.title).toBe('北京旅行')
    expect(Array.from(touched.lastMessagePreview!)).toHaveLength(120)
    expect(touched.updatedAt > c.updatedAt).toBe(true)
    const again = await s.touch({ userId: alice.user.id, id: c.id, preview: 'next', title: 'Another title' })
    expect(again.title).toBe('北京旅行')
    expect(again.lastMessagePreview).toBe('next')

    const named = await createConversation(t, alice.accessToken, { title: 'Mine' })
    expect((await s.touch({ userId: alice.user.id, id: named.id, preview: 'x', title: 'Auto' })).title).toBe('Mine')
  })

  describe('branches', () => {
    let convo: Conversation
    const m: Record<string, string> = {}
    beforeAll(async () => {
      convo = await createConversation(t, alice.accessToken, { title: 'Branchy' })
      const add = async (name: string, role: 'user' | 'assistant', parent: string | null, second: number) => {
        const row = await insertMessage(t, {
          conversationId: convo.id,
          userId: alice.user.id,
          role,
          content: `${name} text`,
          parentId: parent ? m[parent]! : null,
          createdAt: at(second),
          ...(role === 'assistant' ? { promptTokens: 10, completionTokens: 20, cost: 30 } : {}),
        })
        m[name] = row.id
      }
      // u1 → a1 and, regenerated, a1b; after a1b the user asked u2, then edited it into u2b.
      await add('u1', 'user', null, 1)
      await add('a1', 'assistant', 'u1', 2)
      await add('a1b', 'assistant', 'u1', 3)
      await add('u2', 'user', 'a1b', 4)
      await add('a2', 'assistant', 'u2', 5)
      await add('u2b', 'user', 'a1b', 6)
      await add('a2b', 'assistant', 'u2b', 7)
    })
    const messages = (query = '', token = alice.accessToken) =>
      get(`/api/conversations/${convo.id}/messages${query}`, token)
    const names = (items: Message[]) => items.map((i) => Object.keys(m).find((k) => m[k] === i.id))

    it('shows the newest branch oldest first, with siblings for switching', async () => {
      const res = await messages()
      expect(res.statusCode).toBe(200)
      const page = res.json<{ items: Message[]; nextCursor: string | null; leafId: string }>()
      expect(names(page.items)).toEqual(['u1', 'a1b', 'u2b', 'a2b'])
      expect(page.leafId).toBe(m.a2b)
      expect(page.nextCursor).toBeNull()
      const [u1, a1b, u2b] = page.items
      expect(u1!.siblingIds).toEqual([m.u1])
      expect(a1b!.siblingIds).toEqual([m.a1, m.a1b])
      expect(u2b!.siblingIds).toEqual([m.u2, m.u2b])
      expect(a1b).toMatchObject({
        role: 'assistant',
        model: 'qwen-plus',
        status: 'complete',
        parentId: m.u1,
        usage: { promptTokens: 10, completionTokens: 20, cost: 30 },
      })
      expect(u1!.usage).toBeUndefined()
    })

    it('follows a chosen leaf, continuing down by the newest children', async () => {
      expect(names((await messages(`?leafId=${m.a1}`)).json().items)).toEqual(['u1', 'a1'])
      expect(names((await messages(`?leafId=${m.u2}`)).json().items)).toEqual(['u1', 'a1b', 'u2', 'a2'])
      expect(names((await messages(`?leafId=${m.u1}`)).json().items)).toEqual(['u1', 'a1b', 'u2b', 'a2b'])
      const other = await createConversation(t, alice.accessToken)
      const foreign = await insertMessage(t, {
        conversationId: other.id,
        userId: alice.user.id,
        role: 'user',
        content: 'x',
        createdAt: at(1),
      })
      expect((await messages(`?leafId=${foreign.id}`)).statusCode).toBe(404)
    })

    it('pages backwards from the newest message, each page oldest first', async () => {
      const first = (await messages('?limit=3')).json()
      expect(names(first.items)).toEqual(['a1b', 'u2b', 'a2b'])
      expect(first.nextCursor).toBe(m.a1b)
      const second = (await messages(`?limit=3&cursor=${first.nextCursor}`)).json()
      expect(names(second.items)).toEqual(['u1'])
      expect(second.nextCursor).toBeNull()
      expect((await messages(`?cursor=${m.a1}`)).statusCode).toBe(400)
    })

    it('gives the chat turn the path as rows (getBranchPath) and maps rows (toMessageDto)', async () => {
      const s = t.app.services.conversations
      const rows = await s.getBranchPath({ userId: alice.user.id, conversationId: convo.id })
      expect(rows.map((r) => r.id)).toEqual([m.u1, m.a1b, m.u2b, m.a2b])
      const toU2 = await s.getBranchPath({ userId: alice.user.id, conversationId: convo.id, leafId: m.u2 })
      expect(toU2.map((r) => r.id)).toEqual([m.u1, m.a1b, m.u2, m.a2])
      const dto = s.toMessageDto({
        ...rows[1]!,
        status: 'error',
        errorCode: 'UPSTREAM_TIMEOUT',
        errorMessage: 'too slow',
        parts: JSON.stringify([{ type: 'image', fileId: 'f1', url: '/api/files/f1/content', mime: 'image/png' }]),
      })
      expect(dto).toMatchObject({
        status: 'error',
        error: { code: 'UPSTREAM_TIMEOUT', message: 'too slow' },
        parts: [{ fileId: 'f1' }],
      })
      await expect(s.getBranchPath({ userId: bob.user.id, conversationId: convo.id })).rejects.toMatchObject({
        code: 'NOT_FOUND',
      })
    })

    it('exports the current branch as Markdown and JSON downloads', async () => {
      await patch(convo.id, { title: 'My "trip"/北京 <plan>\u0007' })
      const md = await get(`/api/conversations/${convo.id}/export?format=markdown`)
      expect(md.statusCode).toBe(200)
      expect(md.headers['content-type']).toMatch(/^text\/markdown/)
      const disposition = String(md.headers['content-disposition'])
      expect(disposition).toMatch(/^attachment; filename="[\x20-\x7e]+\.md"; filename\*=UTF-8''/)
      expect(disposition).not.toMatch(/"trip"|[<>/\r\n]|[^\x20-\x7e]/)
      expect(decodeURIComponent(disposition.split("UTF-8''")[1]!)).toBe('My _trip__北京 _plan_.md')
      expect(md.body).toContain('# My "trip"/北京 <plan>')
      expect(md.body).toMatch(/## User · 2026-01-01T00:00:01\.000Z\n\nu1 text/)
      expect(md.body).toMatch(/## Assistant \(qwen-plus\) · 2026-01-01T00:00:03\.000Z\n\na1b text/)
      expect(md.body).toContain('a2b text')
      expect(md.body).not.toContain('a1 text')
      expect(md.body).not.toContain('u2 text')

      const json = await get(`/api/conversations/${convo.id}/export?format=json`)
      expect(json.headers['content-type']).toMatch(/^application\/json/)
      expect(String(json.headers['content-disposition'])).toMatch(/\.json"; filename\*=/)
      const doc = json.json()
      expect(doc.format).toBe('qiao.conversation.v1')
      expect(doc.conversation.id).toBe(convo.id)
      expect(doc.messages.map((x: Message) => x.id)).toEqual([m.u1, m.a1b, m.u2b, m.a2b])
      const chosen = (await get(`/api/conversations/${convo.id}/export?format=json&leafId=${m.a1}`)).json()
      expect(chosen.messages.map((x: Message) => x.id)).toEqual([m.u1, m.a1])
      expect((await get(`/api/conversations/${convo.id}/export?format=pdf`)).statusCode).toBe(400)
    })

    it("C1: another user cannot read, change, delete or export alice's conversation or messages", async () => {
      const before = (await get(`/api/conversations/${convo.id}`)).json()
      const token = bob.accessToken
      const answers = [
        await get(`/api/conversations/${convo.id}`, token),
        await patch(convo.id, { title: 'pwned', pinned: true }, token),
        await messages('', token),
        await messages(`?leafId=${m.u2}`, token),
        await get(`/api/conversations/${convo.id}/export?format=json`, token),
        await get(`/api/conversations/${convo.id}/export?format=markdown`, token),
        await t.inject({ method: 'DELETE', url: `/api/conversations/${convo.id}`, headers: bearer(token) }),
      ]
      for (const res of answers) {
        expect(res.statusCode).toBe(404)
        expect(res.json().error.code).toBe('NOT_FOUND')
        expect(res.body).not.toContain('text')
      }
      // The same answer as for an id that never existed.
      const missing = await get('/api/conversations/0000000000aaaaaaaaaaaaaaaaaaaaaaaaaa', token)
      expect(missing.statusCode).toBe(404)
      expect(missing.json().error.message).toBe(answers[0]!.json().error.message)
      expect((await get(`/api/conversations/${convo.id}`)).json()).toEqual(before)
      expect(
        await t.deps.db.kysely.selectFrom('messages').select('id').where('conversationId', '=', convo.id).execute(),
      ).toHaveLength(7)
      expect(ids(await get('/api/conversations', token))).not.toContain(convo.id)
      const s = t.app.services.conversations
      await expect(s.touch({ userId: bob.user.id, id: convo.id, preview: 'x', title: 'y' })).rejects.toMatchObject({
        code: 'NOT_FOUND',
      })
      await expect(s.get({ userId: bob.user.id, id: convo.id })).rejects.toMatchObject({ code: 'NOT_FOUND' })
    })
  })

  describe('search', () => {
    let user: TestAccount
    let trip: Conversation
    let bread: Conversation
    let percent: Conversation
    let bobs: Conversation
    beforeAll(async () => {
      user = await registerUser(t)
      trip = await createConversation(t, user.accessToken, { title: 'Holiday planning' })
      bread = await createConversation(t, user.accessToken, { title: 'Kitchen' })
      percent = await createConversation(t, user.accessToken, { title: 'Progress' })
      const u = user.user.id
      await insertMessage(t, {
        conversationId: trip.id,
        userId: u,
        role: 'user',
        content: '我想去北京旅游',
        createdAt: at(1),
      })
      await insertMessage(t, {
        conversationId: trip.id,
        userId: u,
        role: 'assistant',
        content: 'Beijing is lovely in autumn.',
        createdAt: at(2),
      })
      await insertMessage(t, {
        conversationId: bread.id,
        userId: u,
        role: 'user',
        content: 'How do I bake Sourdough bread in autumn?',
        createdAt: at(3),
      })
      await insertMessage(t, {
        conversationId: percent.id,
        userId: u,
        role: 'user',
        content: 'We are 100% done_now',
        createdAt: at(4),
      })
      // Bob has the same words; they must never show up for anyone else.
      bobs = await createConversation(t, bob.accessToken, { title: 'Holiday sourdough' })
      await insertMessage(t, {
        conversationId: bobs.id,
        userId: bob.user.id,
        role: 'user',
        content: '我想去北京旅游 sourdough 100%',
        createdAt: at(5),
      })
    })
    const search = async (q: string, token = user.accessToken) => {
      const res = await get(`/api/conversations?q=${encodeURIComponent(q)}`, token)
      expect(res.statusCode).toBe(200)
      return ids(res)
    }

    it('finds Chinese text inside a sentence', async () => {
      expect(await search('北京')).toEqual([trip.id])
      expect(await search('北京旅游')).toEqual([trip.id])
      expect(await search('北')).toEqual([trip.id])
      expect(await search('上海')).toEqual([])
    })

    it('searches titles and message text, case-insensitively, every term in one place', async () => {
      expect(await search('sourdough')).toEqual([bread.id])
      expect(await search('SOURDOUGH')).toEqual([bread.id])
      expect(await search('sour')).toEqual([bread.id])
      expect(await search('bake bread')).toEqual([bread.id])
      expect(await search('holiday')).toEqual([trip.id])
      expect(await search('beijing autumn')).toEqual([trip.id])
      // Terms found only in different conversations (or title vs. message) do not combine.
      expect(await search('bake beijing')).toEqual([])
    })

    it('follows renames, edited messages and deletions (the index keeps itself in sync)', async () => {
      const c = await createConversation(t, user.accessToken, { title: 'Scratch' })
      const msg = await insertMessage(t, {
        conversationId: c.id,
        userId: user.user.id,
        role: 'assistant',
        content: '',
        status: 'streaming',
        createdAt: at(9),
      })
      expect(await search('zanzibar')).toEqual([])
      // The chat turn fills streamed text in with plain updates.
      await t.deps.db.kysely
        .updateTable('messages')
        .set({ content: 'Zanzibar has spice farms', status: 'complete' })
        .where('id', '=', msg.id)
        .execute()
      expect(await search('zanzibar')).toEqual([c.id])
      await patch(c.id, { title: 'Quokka notes' }, user.accessToken)
      expect(await search('quokka')).toEqual([c.id])
      expect(await search('scratch')).toEqual([])
      await t.inject({ method: 'DELETE', url: `/api/conversations/${c.id}`, headers: bearer(user.accessToken) })
      expect(await search('zanzibar')).toEqual([])
      expect(await search('quokka')).toEqual([])
    })

    it('D3: treats wildcards, FTS syntax and SQL as literal text', async () => {
      expect(await search('%')).toEqual([percent.id])
      expect(await search('100%')).toEqual([percent.id])
      expect(await search('_')).toEqual([percent.id])
      expect(await search('done_now')).toEqual([percent.id])
      expect(await search('done%now')).toEqual([])
      for (const q of [
        "'; DROP TABLE messages; --",
        "' OR '1'='1",
        '" OR 1=1 --',
        'NEAR(',
        'NEAR(sourdough bread)',
        '"',
        '""',
        '*',
        'sour*',
        'sourdough OR bread',
        '+sourdough -bread',
        'sourdough:*',
        '!',
        '\\',
        'a & b | !c',
        '(',
        '^sourdough',
        'body:sourdough',
      ]) {
        const res = await get(`/api/conversations?q=${encodeURIComponent(q)}`, user.accessToken)
        expect(res.statusCode, q).toBe(200)
        expect(ids(res), q).toEqual([])
      }
      // Still there, still searchable.
      const count = await sql<{ n: number }>`select count(*) as n from messages`.execute(t.deps.db.kysely)
      expect(Number(count.rows[0]!.n)).toBeGreaterThan(0)
      expect(await search('sourdough')).toEqual([bread.id])
    })

    it('C1: search never returns another user’s conversations', async () => {
      expect(await search('北京', bob.accessToken)).toEqual([bobs.id])
      expect(await search('sourdough', bob.accessToken)).toEqual([bobs.id])
      const direct = await t.app.services.conversations.searchConversationIds({
        userId: user.user.id,
        q: 'sourdough 100%',
        limit: 10,
      })
      expect(direct).toEqual([])
      expect(
        await t.app.services.conversations.searchConversationIds({
          userId: bob.user.id,
          q: 'sourdough 100%',
          limit: 10,
        }),
      ).toEqual([bobs.id])
    })

    it('pages through search results like any list and respects the archive filter', async () => {
      const first = await get('/api/conversations?q=autumn&limit=1', user.accessToken)
      const all = await search('autumn')
      expect(all).toHaveLength(2)
      expect(ids(first)).toEqual([all[0]])
      const second = await get(
        `/api/conversations?q=autumn&limit=1&cursor=${first.json().nextCursor}`,
        user.accessToken,
      )
      expect(ids(second)).toEqual([all[1]])
      await patch(bread.id, { archived: true }, user.accessToken)
      expect(await search('sourdough')).toEqual([])
      const archived = await get('/api/conversations?q=sourdough&archived=true', user.accessToken)
      expect(ids(archived)).toEqual([bread.id])
      await patch(bread.id, { archived: false }, user.accessToken)
    })
  })
})
