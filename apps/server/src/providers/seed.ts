import { randomBytes } from 'node:crypto'
import type { Capability, ModelKind } from '@qiao/shared'
import type { Config } from '../config'
import type { AppDeps } from '../context'
import type { Db } from '../db/kysely'
import { isUniqueViolation } from '../db/kysely'
import type { ProviderChannelsTable } from '../db/schema'
import { newId } from '../ids'
import { createVault, providerKeyAad, sealedKeyRow, type Vault } from '../platform/vault'
import { EMULATOR_MODELS } from './emulator/models'
import type { ProviderRegistry } from './registry'
import type { ProviderKind } from './types'

/**
 * Boot-time data for providers: the model catalog, the channels the environment configures
 * (DASHSCOPE_API_KEY, MOONSHOT_API_KEY) and, when no provider key is set, the built-in emulator's
 * channels, so the real adapters run offline.
 */

export interface CatalogModel {
  id: string
  upstreamModel: string
  provider: ProviderKind
  kind: ModelKind
  displayName: string
  capabilities: Capability[]
  contextWindow: number
  maxOutputTokens: number | null
  /** micro-yuan per million tokens. */
  inputPrice: number | null
  outputPrice: number | null
  /** micro-yuan per image. */
  imagePrice: number | null
  priceSource: string
}

const yuan = (v: number) => Math.round(v * 1_000_000)
// Every price below is a placeholder an admin must confirm against the live console pages before
// billing matters; the source string says how sure protocols/README.md §9 was and when.
const src = (mark: '[U]' | '[P]' | '[V]', note: string) => `${mark} protocols/README.md §9: ${note}; 2026-11`

export const MODEL_CATALOG: readonly CatalogModel[] = [
  // DashScope (Bailian) chat
  { id: 'qwen-turbo', upstreamModel: 'qwen-turbo', provider: 'dashscope', kind: 'chat', displayName: 'Qwen-Turbo', capabilities: ['chat', 'thinking'], contextWindow: 131_072, maxOutputTokens: 8_192, inputPrice: yuan(0.3), outputPrice: yuan(0.6), imagePrice: null, priceSource: src('[U]', 'mainland list from memory (2025), non-thinking') },
  { id: 'qwen-plus', upstreamModel: 'qwen-plus', provider: 'dashscope', kind: 'chat', displayName: 'Qwen-Plus', capabilities: ['chat', 'thinking'], contextWindow: 131_072, maxOutputTokens: 8_192, inputPrice: yuan(0.8), outputPrice: yuan(2), imagePrice: null, priceSource: src('[U]', 'mainland list from memory (2025), 0-128K non-thinking') },
  { id: 'qwen-max', upstreamModel: 'qwen-max', provider: 'dashscope', kind: 'chat', displayName: 'Qwen-Max', capabilities: ['chat'], contextWindow: 32_768, maxOutputTokens: 8_192, inputPrice: yuan(2.4), outputPrice: yuan(9.6), imagePrice: null, priceSource: src('[U]', 'mainland list from memory (2025)') },
  { id: 'qwen3-max', upstreamModel: 'qwen3-max', provider: 'dashscope', kind: 'chat', displayName: 'Qwen3-Max', capabilities: ['chat'], contextWindow: 262_144, maxOutputTokens: 65_536, inputPrice: yuan(6), outputPrice: yuan(24), imagePrice: null, priceSource: src('[U]', 'only an intl figure ($1.2/M input, [P]) is known; CNY values are placeholders') },
  // DashScope vision
  { id: 'qwen-vl-plus', upstreamModel: 'qwen-vl-plus', provider: 'dashscope', kind: 'vision', displayName: 'Qwen-VL-Plus', capabilities: ['chat', 'vision'], contextWindow: 131_072, maxOutputTokens: 8_192, inputPrice: yuan(1.5), outputPrice: yuan(4.5), imagePrice: null, priceSource: src('[U]', 'older list, later cut') },
  { id: 'qwen-vl-max', upstreamModel: 'qwen-vl-max', provider: 'dashscope', kind: 'vision', displayName: 'Qwen-VL-Max', capabilities: ['chat', 'vision'], contextWindow: 131_072, maxOutputTokens: 8_192, inputPrice: yuan(3), outputPrice: yuan(9), imagePrice: null, priceSource: src('[U]', 'older list, later cut') },
  // DashScope images (Wanx), billed per image
  { id: 'wanx-v1', upstreamModel: 'wanx-v1', provider: 'dashscope', kind: 'image', displayName: '通义万相 Wanx v1', capabilities: ['image'], contextWindow: 0, maxOutputTokens: null, inputPrice: null, outputPrice: null, imagePrice: yuan(0.16), priceSource: src('[U]', '¥0.16/image') },
  { id: 'wanx2.1-t2i-turbo', upstreamModel: 'wanx2.1-t2i-turbo', provider: 'dashscope', kind: 'image', displayName: '通义万相 2.1 Turbo', capabilities: ['image'], contextWindow: 0, maxOutputTokens: null, inputPrice: null, outputPrice: null, imagePrice: yuan(0.14), priceSource: src('[U]', 'mainland ¥0.14/image [U]; intl $0.025 [V]') },
  { id: 'wanx2.1-t2i-plus', upstreamModel: 'wanx2.1-t2i-plus', provider: 'dashscope', kind: 'image', displayName: '通义万相 2.1 Plus', capabilities: ['image'], contextWindow: 0, maxOutputTokens: null, inputPrice: null, outputPrice: null, imagePrice: yuan(0.2), priceSource: src('[U]', 'mainland ¥0.20/image [U]; intl $0.05 [V]') },
  // DashScope embeddings
  { id: 'text-embedding-v3', upstreamModel: 'text-embedding-v3', provider: 'dashscope', kind: 'embedding', displayName: 'Text Embedding v3', capabilities: ['embedding'], contextWindow: 8_192, maxOutputTokens: null, inputPrice: yuan(0.5), outputPrice: null, imagePrice: null, priceSource: src('[U]', '¥0.5/M tokens') },
  { id: 'text-embedding-v4', upstreamModel: 'text-embedding-v4', provider: 'dashscope', kind: 'embedding', displayName: 'Text Embedding v4', capabilities: ['embedding'], contextWindow: 8_192, maxOutputTokens: null, inputPrice: yuan(0.5), outputPrice: null, imagePrice: null, priceSource: src('[U]', 'not listed; the v3 figure reused as a placeholder') },
  // Moonshot (Kimi)
  { id: 'moonshot-v1-8k', upstreamModel: 'moonshot-v1-8k', provider: 'moonshot', kind: 'chat', displayName: 'Moonshot v1 8K', capabilities: ['chat'], contextWindow: 8_192, maxOutputTokens: null, inputPrice: yuan(12), outputPrice: yuan(12), imagePrice: null, priceSource: src('[P]', '2024 list ¥12/M (input = output); later prices lower') },
  { id: 'moonshot-v1-32k', upstreamModel: 'moonshot-v1-32k', provider: 'moonshot', kind: 'chat', displayName: 'Moonshot v1 32K', capabilities: ['chat'], contextWindow: 32_768, maxOutputTokens: null, inputPrice: yuan(24), outputPrice: yuan(24), imagePrice: null, priceSource: src('[P]', '2024 list ¥24/M (input = output); later prices lower') },
  { id: 'moonshot-v1-128k', upstreamModel: 'moonshot-v1-128k', provider: 'moonshot', kind: 'chat', displayName: 'Moonshot v1 128K', capabilities: ['chat'], contextWindow: 131_072, maxOutputTokens: null, inputPrice: yuan(60), outputPrice: yuan(60), imagePrice: null, priceSource: src('[P]', '2024 list ¥60/M (input = output); later prices lower') },
  { id: 'kimi-k2-0905-preview', upstreamModel: 'kimi-k2-0905-preview', provider: 'moonshot', kind: 'chat', displayName: 'Kimi K2 (0905)', capabilities: ['chat'], contextWindow: 262_144, maxOutputTokens: null, inputPrice: yuan(4), outputPrice: yuan(16), imagePrice: null, priceSource: src('[U]', 'kimi-k2 in ¥4/M (cache miss), out ¥16/M, from memory (2025)') },
  { id: 'kimi-k2-turbo-preview', upstreamModel: 'kimi-k2-turbo-preview', provider: 'moonshot', kind: 'chat', displayName: 'Kimi K2 Turbo', capabilities: ['chat'], contextWindow: 262_144, maxOutputTokens: null, inputPrice: yuan(4), outputPrice: yuan(16), imagePrice: null, priceSource: src('[U]', 'not listed; the kimi-k2 figures reused as placeholders') },
  { id: 'kimi-k2-thinking', upstreamModel: 'kimi-k2-thinking', provider: 'moonshot', kind: 'chat', displayName: 'Kimi K2 Thinking', capabilities: ['chat', 'thinking'], contextWindow: 262_144, maxOutputTokens: null, inputPrice: yuan(4), outputPrice: yuan(16), imagePrice: null, priceSource: src('[U]', 'not listed; the kimi-k2 figures reused as placeholders') },
]

/** Inserts catalog rows that are missing; rows already present (maybe edited by an admin) are left alone. */
export async function seedModelCatalog(db: Db, now: Date = new Date()): Promise<number> {
  const existing = new Set((await db.kysely.selectFrom('models').select('id').execute()).map((r) => r.id))
  const at = now.toISOString()
  let inserted = 0
  for (const [index, m] of MODEL_CATALOG.entries()) {
    if (existing.has(m.id)) continue
    try {
      await db.kysely
        .insertInto('models')
        .values({
          ...m,
          capabilities: JSON.stringify(m.capabilities),
          enabled: 1,
          emulated: 0,
          sortOrder: (index + 1) * 10,
          createdAt: at,
          updatedAt: at,
        })
        .execute()
      inserted++
    } catch (err) {
      // Another instance booting at the same time inserted it first: fine.
      if (!isUniqueViolation(err)) throw err
    }
  }
  return inserted
}

function catalogIds(provider: ProviderKind): string[] {
  return MODEL_CATALOG.filter((m) => m.provider === provider).map((m) => m.id)
}

/**
 * Creates or updates the one channel of a given source and type, and makes `secret` (or, for the
 * emulator, any working key) its only key. The key is replaced only when it changed.
 */
export async function upsertSystemChannel(
  db: Db,
  vault: Vault,
  spec: {
    source: 'env' | 'emulator'
    type: ProviderChannelsTable['type']
    name: string
    baseUrl: string
    models: string[]
    /** The key to store; `undefined` keeps any key that still decrypts, or generates one. */
    secret: string | undefined
    now?: Date
  },
): Promise<string> {
  const at = (spec.now ?? new Date()).toISOString()
  const emulated = spec.source === 'emulator' ? 1 : 0
  const found = await db.kysely
    .selectFrom('providerChannels')
    .select('id')
    .where('source', '=', spec.source)
    .where('type', '=', spec.type)
    .orderBy('createdAt')
    .executeTakeFirst()
  let channelId: string
  if (found) {
    channelId = found.id
    await db.kysely
      .updateTable('providerChannels')
      .set({ baseUrl: spec.baseUrl, models: JSON.stringify(spec.models), enabled: 1, emulated, updatedAt: at })
      .where('id', '=', channelId)
      .execute()
  } else {
    channelId = newId()
    await db.kysely
      .insertInto('providerChannels')
      .values({
        id: channelId,
        type: spec.type,
        name: spec.name,
        baseUrl: spec.baseUrl,
        models: JSON.stringify(spec.models),
        weight: 1,
        // Real keys from the environment come before anything else; the emulator comes last.
        priority: spec.source === 'emulator' ? -100 : 0,
        enabled: 1,
        emulated,
        source: spec.source,
        options: '{}',
        lastError: null,
        createdAt: at,
        updatedAt: at,
      })
      .execute()
  }

  const keys = await db.kysely.selectFrom('providerKeys').selectAll().where('channelId', '=', channelId).execute()
  const keep = keys.find((k) => {
    try {
      const plain = vault.decrypt(k, providerKeyAad(k.id))
      return spec.secret === undefined || plain === spec.secret
    } catch {
      return false
    }
  })
  if (keep && keys.length === 1) return channelId
  await db.kysely.deleteFrom('providerKeys').where('channelId', '=', channelId).execute()
  const secret = spec.secret ?? `sk-emulator-${randomBytes(18).toString('hex')}`
  await db.kysely
    .insertInto('providerKeys')
    .values(sealedKeyRow(vault, { id: newId(), channelId, secret, at }))
    .execute()
  return channelId
}

async function disableChannels(db: Db, where: { source: 'env' | 'emulator'; type?: ProviderChannelsTable['type'] }, now: Date) {
  let q = db.kysely
    .updateTable('providerChannels')
    .set({ enabled: 0, updatedAt: now.toISOString() })
    .where('source', '=', where.source)
  if (where.type) q = q.where('type', '=', where.type)
  await q.execute()
}

/**
 * Env channels follow the environment on every boot: present key → channel enabled with that key
 * (replaced if it changed); absent key → that channel disabled.
 */
export async function seedEnvChannels(db: Db, config: Readonly<Config>, vault: Vault, now: Date = new Date()): Promise<void> {
  if (config.DASHSCOPE_API_KEY) {
    await upsertSystemChannel(db, vault, {
      source: 'env',
      type: 'dashscope',
      name: 'DashScope (environment)',
      baseUrl: config.DASHSCOPE_BASE_URL.replace(/\/+$/, ''),
      models: catalogIds('dashscope'),
      secret: config.DASHSCOPE_API_KEY.trim(),
      now,
    })
  } else {
    await disableChannels(db, { source: 'env', type: 'dashscope' }, now)
  }
  if (config.MOONSHOT_API_KEY) {
    await upsertSystemChannel(db, vault, {
      source: 'env',
      type: 'moonshot',
      name: 'Moonshot (environment)',
      baseUrl: config.MOONSHOT_BASE_URL.replace(/\/+$/, ''),
      models: catalogIds('moonshot'),
      secret: config.MOONSHOT_API_KEY.trim(),
      now,
    })
  } else {
    await disableChannels(db, { source: 'env', type: 'moonshot' }, now)
  }
}

/** `on`: always; `auto`: only when no provider key is configured; `off`: never. */
export function shouldRunEmulator(config: Readonly<Config>): boolean {
  if (config.QIAO_EMULATOR === 'on') return true
  if (config.QIAO_EMULATOR === 'off') return false
  return !config.DASHSCOPE_API_KEY && !config.MOONSHOT_API_KEY
}

export async function seedEmulatorChannels(
  db: Db,
  vault: Vault,
  emulator: { url: string; moonshotUrl: string; models?: readonly string[] },
  now: Date = new Date(),
): Promise<void> {
  const served = (provider: ProviderKind) =>
    catalogIds(provider).filter((id) => !emulator.models || emulator.models.includes(id))
  await upsertSystemChannel(db, vault, {
    source: 'emulator',
    type: 'dashscope',
    name: 'DashScope emulator',
    baseUrl: emulator.url.replace(/\/+$/, ''),
    models: served('dashscope'),
    secret: undefined,
    now,
  })
  await upsertSystemChannel(db, vault, {
    source: 'emulator',
    type: 'moonshot',
    name: 'Moonshot emulator',
    baseUrl: emulator.moonshotUrl.replace(/\/+$/, ''),
    models: served('moonshot'),
    secret: undefined,
    now,
  })
}

export async function disableEmulatorChannels(db: Db, now: Date = new Date()): Promise<void> {
  await disableChannels(db, { source: 'emulator' }, now)
}

/**
 * A model is `emulated` when only the emulator serves it: no enabled real channel lists it, but an
 * enabled emulator channel does. Run after any channel change.
 */
export async function refreshEmulatedFlags(db: Db, now: Date = new Date()): Promise<void> {
  const channels = await db.kysely
    .selectFrom('providerChannels')
    .select(['models', 'source'])
    .where('enabled', '=', 1)
    .execute()
  const real = new Set<string>()
  const emu = new Set<string>()
  for (const c of channels) {
    const ids = parseIds(c.models)
    for (const id of ids) (c.source === 'emulator' ? emu : real).add(id)
  }
  const models = await db.kysely.selectFrom('models').select(['id', 'emulated']).execute()
  for (const m of models) {
    const want = !real.has(m.id) && emu.has(m.id) ? 1 : 0
    if (m.emulated !== want) {
      await db.kysely
        .updateTable('models')
        .set({ emulated: want, updatedAt: now.toISOString() })
        .where('id', '=', m.id)
        .execute()
    }
  }
}

export function parseIds(json: string): string[] {
  try {
    const v: unknown = JSON.parse(json)
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []
  } catch {
    return []
  }
}

/** The emulator the boot started, if any. */
export interface RunningEmulator {
  url: string
  moonshotUrl: string
  close(): Promise<void>
}

/**
 * Boot work for providers: catalog, env channels, the emulator when no key is set (or forced on),
 * emulated flags. Returns the running emulator so the caller can stop it on shutdown.
 */
export async function seedProviders(
  deps: AppDeps,
  options: { startEmulator?: () => Promise<RunningEmulator & { models?: readonly string[] }> } = {},
): Promise<RunningEmulator | undefined> {
  const now = deps.now?.() ?? new Date()
  const vault = createVault(deps.masterKeys)
  await seedModelCatalog(deps.db, now)
  await seedEnvChannels(deps.db, deps.config, vault, now)
  let emulator: RunningEmulator | undefined
  if (shouldRunEmulator(deps.config)) {
    const start = options.startEmulator ?? defaultStartEmulator
    const running = await start()
    emulator = running
    await seedEmulatorChannels(deps.db, vault, running, now)
    deps.logger.warn(
      { url: running.url },
      'no provider key configured: the built-in emulator answers instead of real models (labelled as emulated)',
    )
  } else {
    await disableEmulatorChannels(deps.db, now)
  }
  await refreshEmulatedFlags(deps.db, now)
  return emulator
}

async function defaultStartEmulator(): Promise<RunningEmulator & { models?: readonly string[] }> {
  const { startEmulator } = await import('./emulator/index')
  const running = await startEmulator({ port: 0 })
  return {
    url: running.url,
    moonshotUrl: running.moonshotUrl,
    models: EMULATOR_MODELS.map((m) => m.id),
    close: () => running.close(),
  }
}

/**
 * Everything providers need at boot, for startup.ts: seed, then re-probe keys disabled for auth
 * failures every minute. Returns the stop function (timer, emulator, guarded connections).
 */
export async function startProviders(
  deps: AppDeps,
  registry: Pick<ProviderRegistry, 'invalidate' | 'probeDueKeys' | 'close'>,
  options: { probeEveryMs?: number } = {},
): Promise<() => Promise<void>> {
  const emulator = await seedProviders(deps)
  registry.invalidate()
  let probing = false
  const timer = setInterval(() => {
    if (probing) return
    probing = true
    registry
      .probeDueKeys()
      .catch((err: unknown) => deps.logger.warn({ err: err instanceof Error ? err.message : 'unknown' }, 'key re-probe failed'))
      .finally(() => {
        probing = false
      })
  }, options.probeEveryMs ?? 60_000)
  timer.unref()
  return async () => {
    clearInterval(timer)
    await registry.close()
    await emulator?.close()
  }
}
