import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { openDb } from '../../db/kysely'
import { startServer } from '../../test/bundle'
import { parseSse } from './testing'

/**
 * SECURITY.md M3 / invariant 1, for real: a server process with 20 live streams receives SIGTERM.
 * It must drain — every assistant message ends in a final state with its partial text and exactly
 * one api_calls row, each client gets a final event — and exit 0.
 */
const ADMIN = { email: 'sigterm-admin@example.com', password: 'Drain-all-the-streams-2026' }
const STREAMS = 20


describe('SIGTERM with live streams', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'qiao-sigterm-'))
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

  it('drains 20 live streams: every message final with its text and one api_calls row, exit code 0', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, HOST: '127.0.0.1', QIAO_DATA_DIR: dataDir }
    delete env.DATABASE_URL
    delete env.REDIS_URL
    Object.assign(env, {
      NODE_ENV: 'development',
      LOG_LEVEL: 'info',
      QIAO_EMULATOR: 'on',
      QIAO_ADMIN_EMAIL: ADMIN.email,
      QIAO_ADMIN_PASSWORD: ADMIN.password,
    })
    // From source, as `npm run dev` runs it (the bundle's own tests are main.int.test.ts).
    const server = await startServer('apps/server/src/main.ts', env, ['--import', 'tsx'])
    const { base } = server
    try {
      const emulatorUrl = server
        .output()
        .split('\n')
        .map((l) => {
          try {
            return (JSON.parse(l) as { msg?: string; url?: string })
          } catch {
            return {}
          }
        })
        .find((e) => e.msg?.includes('built-in emulator'))?.url
      expect(emulatorUrl).toBeTruthy()

      const login = await fetch(`${base}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ login: ADMIN.email, password: ADMIN.password }),
      })
      expect(login.status).toBe(200)
      const { accessToken } = (await login.json()) as { accessToken: string }
      const auth = { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' }
      // One user with 20 streams: the admin raises the cap the way an operator would.
      const patched = await fetch(`${base}/api/admin/settings`, {
        method: 'PATCH',
        headers: auth,
        body: JSON.stringify({ rateLimits: { maxConcurrentStreams: 50, userRpm: 1000 } }),
      })
      expect(patched.status).toBe(200)
      // Every answer stalls after a few chunks, so all 20 are mid-stream when SIGTERM arrives.
      const fault = await fetch(`${emulatorUrl}/__emulator/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ fault: { type: 'stall', afterChunks: 3, delayMs: 60_000 }, times: STREAMS }),
      })
      expect(fault.ok).toBe(true)

      const streams = await Promise.all(
        Array.from({ length: STREAMS }, async (_, i) => {
          const convo = await fetch(`${base}/api/conversations`, { method: 'POST', headers: auth, body: JSON.stringify({ title: `drain ${i}` }) })
          const { id } = (await convo.json()) as { id: string }
          const res = await fetch(`${base}/api/conversations/${id}/messages`, {
            method: 'POST',
            headers: { ...auth, accept: 'text/event-stream' },
            body: JSON.stringify({ content: `请详细回答第 ${i} 个问题 long`, model: 'qwen-plus' }),
          })
          expect(res.status).toBe(200)
          const reader = res.body!.getReader()
          let text = ''
          // Read until the first delta has arrived: the stream is live.
          while (!text.includes('event: delta')) {
            const { value, done } = await reader.read()
            if (done) throw new Error(`stream ${i} ended early: ${text}`)
            text += new TextDecoder().decode(value)
          }
          return { reader, text }
        }),
      )

      const exited = server.stop('SIGTERM')
      // Each client gets a final event, then the connection closes.
      const finals = await Promise.all(
        streams.map(async (s) => {
          let text = s.text
          for (;;) {
            const { value, done } = await s.reader.read().catch(() => ({ value: undefined, done: true }))
            if (done) break
            text += new TextDecoder().decode(value)
          }
          return parseSse(text).at(-1)?.event
        }),
      )
      expect(finals.every((e) => e === 'error' || e === 'done')).toBe(true)
      expect(await exited).toBe(0)

      const db = openDb({ url: `sqlite:${join(dataDir, 'qiao.db')}`, dataDir })
      try {
        const answers = await db.kysely.selectFrom('messages').selectAll().where('role', '=', 'assistant').execute()
        expect(answers).toHaveLength(STREAMS)
        for (const m of answers) {
          expect(m.status).not.toBe('streaming')
          expect(['interrupted', 'error', 'complete']).toContain(m.status)
          expect(m.content.length).toBeGreaterThan(0)
          expect(m.apiCallId).toBeTruthy()
        }
        const calls = await db.kysely.selectFrom('apiCalls').select(['id', 'completionTokens']).execute()
        expect(calls).toHaveLength(STREAMS)
        expect(new Set(answers.map((m) => m.apiCallId))).toEqual(new Set(calls.map((c) => c.id)))
        expect(calls.every((c) => c.completionTokens > 0)).toBe(true)
        const held = await db.kysely.selectFrom('creditReservations').select('id').where('status', '=', 'held').execute()
        expect(held).toHaveLength(0)
      } finally {
        await db.close()
      }
    } finally {
      await server.stop('SIGKILL')
    }
  }, 120_000)
})
