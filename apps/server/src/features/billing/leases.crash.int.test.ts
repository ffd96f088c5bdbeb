import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { buildBundle, productionEnv, startServer, type ServerProcess } from '../../test/bundle'

/**
 * SECURITY invariant 3 with a real `kill -9` (ADR 0004): /v1 calls answered by a server process
 * that dies before their batch is written are charged exactly once, by the next boot, from the
 * usage journal. The flush interval is stretched to a minute so that the batch cannot have been
 * written when the process is killed; the database is read directly between the boots.
 */
describe('usage settled by a server killed with SIGKILL', () => {
  const bundle = buildBundle()
  const dataDir = mkdtempSync(join(tmpdir(), 'qiao-crash-'))
  const journalDir = join(dataDir, 'usage-journal')
  const env = productionEnv(dataDir, { QIAO_EMULATOR: 'on', QIAO_USAGE_FLUSH_MS: '60000' })
  let server: ServerProcess | undefined

  afterAll(async () => {
    await server?.stop('SIGKILL')
    bundle.remove()
    rmSync(dataDir, { recursive: true, force: true })
  })

  async function call(path: string, init: { method?: string; token?: string; body?: unknown } = {}): Promise<Record<string, unknown>> {
    const res = await fetch(`${server!.base}${path}`, {
      method: init.method ?? (init.body ? 'POST' : 'GET'),
      headers: { ...(init.body ? { 'content-type': 'application/json' } : {}), ...(init.token ? { authorization: `Bearer ${init.token}` } : {}) },
      body: init.body ? JSON.stringify(init.body) : undefined,
    })
    const text = await res.text()
    if (!res.ok) throw new Error(`${path} → ${res.status} ${text}`)
    return JSON.parse(text) as Record<string, unknown>
  }

  /** The user's money and usage as the database holds it, read with the server stopped. */
  function ledger(userId: string) {
    const db = new Database(join(dataDir, 'qiao.db'), { readonly: true })
    try {
      const user = db.prepare('SELECT balance, reserved FROM users WHERE id = ?').get(userId) as { balance: number; reserved: number }
      const calls = db.prepare(`SELECT request_id AS requestId, cost FROM api_calls WHERE user_id = ? AND source = 'api' ORDER BY request_id`).all(userId) as Array<{ requestId: string; cost: number }>
      const usage = db.prepare(`SELECT ref, delta FROM credit_ledger WHERE user_id = ? AND reason = 'usage' ORDER BY ref`).all(userId) as Array<{ ref: string; delta: number }>
      const held = db.prepare(`SELECT COUNT(*) AS n FROM credit_reservations WHERE user_id = ? AND status = 'held'`).get(userId) as { n: number }
      return { ...user, calls, usage, held: held.n }
    } finally {
      db.close()
    }
  }

  it('charges every answered call once, at the next boot, and nothing more at the boot after', async () => {
    server = await startServer(join(bundle.dir, 'main.js'), env)
    const admin = await call('/api/auth/login', { body: { login: env.QIAO_ADMIN_EMAIL, password: env.QIAO_ADMIN_PASSWORD } })
    const user = await call('/api/auth/register', { body: { email: 'crash@example.com', password: `Crash-${randomBytes(6).toString('hex')}-user` } })
    const userId = (user.user as { id: string }).id
    await call(`/api/admin/users/${userId}/balance`, { token: admin.accessToken as string, body: { delta: 10_000_000, reason: 'crash test' } })
    const { secret } = (await call('/api/keys', { token: user.accessToken as string, body: { name: 'crash' } })) as { secret: string }
    const { balance: before } = ledger(userId)

    const ids: string[] = []
    for (let i = 0; i < 3; i++) {
      const answer = await call('/v1/chat/completions', { token: secret, body: { model: 'qwen-plus', messages: [{ role: 'user', content: `Question ${i}` }], max_tokens: 16 } })
      expect((answer.usage as { completion_tokens: number }).completion_tokens).toBeGreaterThan(0)
      ids.push(`api:${(answer.id as string).replace(/^chatcmpl-/, '')}`)
    }
    // The journal is written in the event-loop turn after each answer; give that turn a moment.
    await new Promise((ok) => setTimeout(ok, 100))
    const lines = readdirSync(journalDir).flatMap((f) => readFileSync(join(journalDir, f), 'utf8').split('\n').filter(Boolean))
    expect(lines).toHaveLength(3)

    await server.stop('SIGKILL')
    // Killed before its batch: no usage row, no charge, the lease still held.
    const killed = ledger(userId)
    expect(killed.calls).toEqual([])
    expect(killed.usage).toEqual([])
    expect(killed.balance).toBe(before)
    expect(killed.reserved).toBeGreaterThan(0)
    expect(killed.held).toBe(1)

    // The next boot replays the journal, charges the calls from the dead process's lease and
    // returns the rest of it.
    server = await startServer(join(bundle.dir, 'main.js'), env)
    expect(await server.stop('SIGTERM')).toBe(0)
    const replayed = ledger(userId)
    expect(replayed.calls.map((c) => c.requestId)).toEqual([...ids].sort())
    const costs = replayed.calls.map((c) => c.cost)
    expect(costs.every((c) => c > 0)).toBe(true)
    expect(replayed.usage.map((u) => u.ref)).toEqual([...ids].sort().map((id) => `usage:${id}`))
    expect(replayed.usage.map((u) => -u.delta)).toEqual(costs)
    const charged = costs.reduce((a, b) => a + b, 0)
    expect(replayed.balance).toBe(before - charged)
    expect(replayed.reserved).toBe(0)
    expect(replayed.held).toBe(0)
    expect(readdirSync(journalDir)).toEqual([])

    // Once replayed, a boot finds nothing to do: charged exactly once.
    server = await startServer(join(bundle.dir, 'main.js'), env)
    expect(await server.stop('SIGTERM')).toBe(0)
    expect(ledger(userId)).toEqual(replayed)
  })
})
