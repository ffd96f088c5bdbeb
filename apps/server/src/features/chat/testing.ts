import type { FileInfo } from '@qiao/shared'
import { PNG } from 'pngjs'
import type { Dialect } from '../../db/kysely'
import { ADAPTERS } from '../../providers/adapters'
import { startEmulator, type Emulator } from '../../providers/emulator/index'
import { createProviderRegistry, type RegistryOptions } from '../../providers/registry'
import { seedModelCatalog } from '../../providers/seed'
import type { ProviderAdapter, RetryPolicy, Timeouts } from '../../providers/types'
import { createTestApp, type TestApp } from '../../test/app'
import { bearer } from '../auth/testing'
import { createChatBillingHooks } from '../billing/chat-hooks'
import { addChannel } from '../providers/testing'
import { createChatService, type ChatServiceOptions } from './chat.service'

/** Test helpers for chat turns: an app wired to a local emulator, SSE parsing, uploads. Not used by production code. */

export interface ChatHarness {
  t: TestApp
  emu: Emulator
  close(): Promise<void>
}

export const CHAT_MODELS = ['qwen-plus', 'qwen-vl-plus', 'qwen-max']

/** A fresh app on `dialect` with the model catalog and one emulator channel serving CHAT_MODELS. */
export async function startChatHarness(
  dialect: Dialect,
  opts: { chunkDelayMs?: number; /** Credit for each new account, micro-yuan (default ¥1,000). */ defaultBalance?: number } = {},
): Promise<ChatHarness> {
  // A clock that only moves forward: branch order ("newest child") never ties within a millisecond.
  let tick = Date.now()
  const t = await createTestApp({ dialect, deps: { now: () => new Date((tick = Math.max(tick + 1, Date.now()))) } })
  await seedModelCatalog(t.deps.db)
  // Accounts start with plenty of credit and limits far above what a test sends: these suites test
  // the turn itself; billing and rate limits have their own suites that set tight values.
  const at = new Date().toISOString()
  await t.deps.db.kysely
    .insertInto('settings')
    .values([
      { key: 'defaultBalance', value: JSON.stringify(opts.defaultBalance ?? 1_000_000_000), updatedAt: at, updatedBy: null },
      {
        key: 'rateLimits',
        value: JSON.stringify({ userRpm: 100_000, userTpm: 100_000_000, maxConcurrentStreams: 1_000, modelRpm: 1_000_000 }),
        updatedAt: at,
        updatedBy: null,
      },
    ])
    .execute()
  t.app.services.settings.invalidate()
  const emu = await startEmulator({ chunkDelayMs: opts.chunkDelayMs ?? 0 })
  await addChannel(t.deps.db, t.deps.masterKeys, { baseUrl: emu.url, models: CHAT_MODELS, keys: ['sk-chat-test-000000001'] })
  t.app.services.providers.invalidate()
  return {
    t,
    emu,
    async close() {
      await emu.close()
      await t.close()
    },
  }
}

/** The DashScope adapter with its own timeouts and retries, the way a slow channel would be configured. */
export function dashScopeWith(limits: { timeouts?: Partial<Timeouts>; retry?: Partial<RetryPolicy> }): ProviderAdapter {
  const real = ADAPTERS.dashscope
  return { ...real, kind: real.kind, chat: (req, ctx) => real.chat(req, { ...ctx, ...limits }) }
}

/**
 * Replaces the app's chat service (routes look it up per request) with one built on its own
 * registry and options: short heartbeats, timeouts or grace periods for a test.
 */
export function rewireChat(t: TestApp, opts: { registry?: RegistryOptions; chat?: Partial<ChatServiceOptions> } = {}) {
  const services = t.app.services
  const providers = opts.registry ? createProviderRegistry(t.deps, { audit: services.audit, ...opts.registry }) : services.providers
  services.chat = createChatService(
    t.deps,
    { providers, conversations: services.conversations, files: services.files },
    { hooks: createChatBillingHooks(services.billing), ...opts.chat },
  )
  return services.chat
}

export interface SseEvent {
  event: string
  data: unknown
}

/** Parses an SSE body into events; comments are skipped, every data line must be JSON. */
export function parseSse(body: string): SseEvent[] {
  const out: SseEvent[] = []
  for (const block of body.split('\n\n')) {
    let event = 'message'
    const data: string[] = []
    for (const line of block.split('\n')) {
      if (line.startsWith(':') || line === '') continue
      const colon = line.indexOf(':')
      const field = colon < 0 ? line : line.slice(0, colon)
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
      if (field === 'event') event = value
      else if (field === 'data') data.push(value)
      else throw new Error(`unexpected SSE field ${field}`)
    }
    if (data.length) out.push({ event, data: JSON.parse(data.join('\n')) as unknown })
  }
  return out
}

/** A real PNG of the given size. */
export function pngBytes(width = 32, height = 32): Buffer {
  const png = new PNG({ width, height })
  for (let i = 0; i < png.data.length; i += 4) {
    png.data[i] = (i / 4) % 256
    png.data[i + 1] = 120
    png.data[i + 2] = 200
    png.data[i + 3] = 255
  }
  return PNG.sync.write(png)
}

/** Uploads an image through POST /api/files, as the browser does. */
export async function uploadImage(t: Pick<TestApp, 'inject'>, token: string, bytes: Buffer = pngBytes()): Promise<FileInfo> {
  const boundary = `----qiao${Date.now()}`
  const payload = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="pic.png"\r\nContent-Type: image/png\r\n\r\n`),
    bytes,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ])
  const res = await t.inject({
    method: 'POST',
    url: '/api/files',
    headers: { ...bearer(token), 'content-type': `multipart/form-data; boundary=${boundary}` },
    payload,
  })
  if (res.statusCode !== 201 && res.statusCode !== 200) throw new Error(`upload failed: ${res.statusCode} ${res.body}`)
  return res.json<FileInfo>()
}
