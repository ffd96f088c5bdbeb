import type { AddressInfo } from 'node:net'
import type { CreatedApiKey, CreateApiKeyBody } from '@qiao/shared'
import OpenAI from 'openai'
import type { Dialect } from '../../db/kysely'
import { bearer, registerUser, type TestAccount } from '../auth/testing'
import { startChatHarness, type ChatHarness } from '../chat/testing'
import { addChannel } from '../providers/testing'

/** Test helpers for the /v1 gateway: a listening app with the emulator upstream, keys, SDK clients. Not used by production code. */

export const IMAGE_MODEL = 'wanx-v1'
export const EMBEDDING_MODEL = 'text-embedding-v3'

export interface GatewayHarness extends ChatHarness {
  /** `http://127.0.0.1:PORT` of the listening app. */
  origin: string
  /** `${origin}/v1`, what SDK clients get as baseURL. */
  baseURL: string
  account(): Promise<TestAccount>
  createKey(account: TestAccount, body?: Partial<CreateApiKeyBody>): Promise<CreatedApiKey>
  client(secret: string, opts?: { defaultHeaders?: Record<string, string> }): OpenAI
  /** Sets the account's balance (and clears holds) directly, as a fixture. */
  setBalance(userId: string, balance: number): Promise<void>
  /**
   * Writes the batched /v1 usage and returns every credit lease no call is using (what happens
   * when the process idles or shuts down), so tests can read settled balances and holds.
   */
  settle(): Promise<void>
}

/**
 * The chat harness (emulator channel for the chat models, credit, high limits) plus a channel for
 * the image and embedding models, listening on a real port so real HTTP clients can call it.
 */
export async function startGatewayHarness(dialect: Dialect, opts: { chunkDelayMs?: number; defaultBalance?: number } = {}): Promise<GatewayHarness> {
  const h = await startChatHarness(dialect, opts)
  const { t, emu } = h
  await addChannel(t.deps.db, t.deps.masterKeys, { baseUrl: emu.url, models: [IMAGE_MODEL, EMBEDDING_MODEL], keys: ['sk-gateway-test-000000002'] })
  t.app.services.providers.invalidate()
  await t.app.listen({ port: 0, host: '127.0.0.1' })
  const origin = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`
  const baseURL = `${origin}/v1`
  return {
    ...h,
    origin,
    baseURL,
    account: () => registerUser(t),
    async createKey(account, body = {}) {
      const res = await t.inject({ method: 'POST', url: '/api/keys', headers: bearer(account.accessToken), payload: { name: 'test key', ...body } })
      if (res.statusCode !== 201) throw new Error(`key not created: ${res.statusCode} ${res.body}`)
      return res.json<CreatedApiKey>()
    },
    client: (secret, o = {}) => new OpenAI({ apiKey: secret, baseURL, maxRetries: 0, timeout: 30_000, ...(o.defaultHeaders ? { defaultHeaders: o.defaultHeaders } : {}) }),
    async setBalance(userId, balance) {
      await t.app.services.leases.quiesce()
      await t.deps.db.kysely.updateTable('users').set({ balance, reserved: 0 }).where('id', '=', userId).execute()
    },
    settle: () => t.app.services.leases.quiesce(),
  }
}
