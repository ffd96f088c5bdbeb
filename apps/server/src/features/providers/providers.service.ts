import type { Channel, CreateChannelBody, ProviderKeyTestResult, ProviderKeyView, UpdateChannelBody } from '@qiao/shared'
import type { AppDeps } from '../../context'
import type { ProviderChannelsTable } from '../../db/schema'
import { AppError, notFound } from '../../errors'
import { newId } from '../../ids'
import { assertUrlAllowed, type Resolver } from '../../platform/ssrf'
import { createVault, sealedKeyRow } from '../../platform/vault'
import type { ProviderRegistry } from '../../providers/registry'
import { parseIds, refreshEmulatedFlags } from '../../providers/seed'
import type { AuditService } from '../audit/audit.service'
import { createProvidersRepo, type ChannelRow, type KeyRow } from './providers.repo'

/** Who is acting, for the audit trail. */
export interface Actor {
  id: string
  ip?: string | undefined
  userAgent?: string | undefined
}

function keyView(k: KeyRow): ProviderKeyView {
  return {
    id: k.id,
    hint: k.hint,
    status: k.status,
    disabledReason: k.disabledReason,
    lastError: k.lastError,
    lastUsedAt: k.lastUsedAt,
    nextProbeAt: k.nextProbeAt,
    createdAt: k.createdAt,
  }
}

function parseOptions(json: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(json)
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}

/**
 * Admin management of upstream channels and their keys. Keys are write-only: they go into the
 * vault on the way in and only their hint ever comes back out. URLs an admin types pass the SSRF
 * guard; env and emulator channels are the server's own and keep their URL.
 */
export function createProvidersService(
  deps: AppDeps,
  s: { audit: Pick<AuditService, 'record'>; providers: ProviderRegistry },
  options: { resolve?: Resolver } = {},
) {
  const repo = createProvidersRepo(deps.db)
  const vault = createVault(deps.masterKeys)
  const now = () => (deps.now ? deps.now() : new Date())

  const view = (c: ChannelRow, keys: KeyRow[]): Channel => ({
    id: c.id,
    type: c.type,
    name: c.name,
    baseUrl: c.baseUrl,
    models: parseIds(c.models),
    weight: c.weight,
    priority: c.priority,
    enabled: c.enabled === 1,
    emulated: c.emulated === 1,
    source: c.source,
    options: parseOptions(c.options),
    lastError: c.lastError,
    circuit: s.providers.breakerState(c.id),
    keys: keys.filter((k) => k.channelId === c.id).map(keyView),
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
  })

  async function getRow(id: string): Promise<ChannelRow> {
    const row = await repo.findChannel(id)
    if (!row) throw notFound('Channel')
    return row
  }

  async function checkUrl(raw: string): Promise<string> {
    return assertUrlAllowed(raw, {
      allowlist: deps.config.QIAO_UPSTREAM_ALLOWLIST,
      ...(options.resolve ? { resolve: options.resolve } : {}),
    })
  }

  /** Every channel change can change which models users see and which are emulated. */
  async function changed(): Promise<void> {
    await refreshEmulatedFlags(deps.db, now())
    s.providers.invalidate()
  }

  async function insertKey(channelId: string, secret: string): Promise<KeyRow> {
    const row = sealedKeyRow(vault, { id: newId(), channelId, secret, at: now().toISOString() })
    await repo.insertKey(row)
    // Callers only ever show keys through keyView, which never reads the ciphertext.
    return row
  }

  const audit = (actor: Actor, entry: { action: string; targetType: string; targetId: string; details?: Record<string, unknown> }) =>
    s.audit.record({ actorId: actor.id, ip: actor.ip, userAgent: actor.userAgent, ...entry })

  async function get(id: string): Promise<Channel> {
    const row = await getRow(id)
    return view(row, await repo.listKeys([row.id]))
  }

  async function getKey(channelId: string, keyId: string): Promise<KeyRow> {
    const key = await repo.findKey(channelId, keyId)
    if (!key) throw notFound('Key')
    return key
  }

  return {
    async list(): Promise<{ items: Channel[] }> {
      const rows = await repo.listChannels()
      const keys = await repo.listKeys(rows.map((r) => r.id))
      return { items: rows.map((r) => view(r, keys)) }
    },

    get,

    async create(body: CreateChannelBody, actor: Actor): Promise<Channel> {
      const baseUrl = await checkUrl(body.baseUrl)
      const at = now().toISOString()
      const id = newId()
      await repo.insertChannel({
        id,
        type: body.type,
        name: body.name,
        baseUrl,
        models: JSON.stringify([...new Set(body.models)]),
        weight: body.weight,
        priority: body.priority,
        enabled: body.enabled ? 1 : 0,
        emulated: 0,
        source: 'admin',
        options: JSON.stringify(body.options ?? {}),
        lastError: null,
        createdAt: at,
        updatedAt: at,
      })
      const hints: string[] = []
      for (const secret of body.keys ?? []) hints.push((await insertKey(id, secret)).hint)
      await changed()
      await audit(actor, {
        action: 'provider.channel.created',
        targetType: 'provider_channel',
        targetId: id,
        details: { type: body.type, name: body.name, baseUrl, models: body.models.length, keyHints: hints },
      })
      return get(id)
    },

    async update(id: string, body: UpdateChannelBody, actor: Actor): Promise<Channel> {
      const row = await getRow(id)
      const patch: Partial<ProviderChannelsTable> = { updatedAt: now().toISOString() }
      if (body.baseUrl !== undefined && body.baseUrl !== row.baseUrl) {
        if (row.source !== 'admin') {
          throw new AppError('CONFLICT', 'This channel is configured by the server; change its URL in the environment')
        }
        patch.baseUrl = await checkUrl(body.baseUrl)
      }
      if (body.name !== undefined) patch.name = body.name
      if (body.models !== undefined) patch.models = JSON.stringify([...new Set(body.models)])
      if (body.weight !== undefined) patch.weight = body.weight
      if (body.priority !== undefined) patch.priority = body.priority
      if (body.enabled !== undefined) patch.enabled = body.enabled ? 1 : 0
      if (body.options !== undefined) patch.options = JSON.stringify(body.options)
      await repo.updateChannel(id, patch)
      await changed()
      await audit(actor, {
        action: 'provider.channel.updated',
        targetType: 'provider_channel',
        targetId: id,
        details: { fields: Object.keys(body) },
      })
      return get(id)
    },

    async remove(id: string, actor: Actor): Promise<void> {
      const row = await getRow(id)
      await repo.deleteChannel(id)
      await changed()
      await audit(actor, {
        action: 'provider.channel.deleted',
        targetType: 'provider_channel',
        targetId: id,
        details: { name: row.name, source: row.source },
      })
    },

    async listKeys(id: string): Promise<{ items: ProviderKeyView[] }> {
      const row = await getRow(id)
      return { items: (await repo.listKeys([row.id])).map(keyView) }
    },

    async addKey(id: string, secret: string, actor: Actor): Promise<ProviderKeyView> {
      const row = await getRow(id)
      const key = await insertKey(row.id, secret)
      s.providers.invalidate()
      await audit(actor, { action: 'provider.key.added', targetType: 'provider_key', targetId: key.id, details: { channelId: id, hint: key.hint } })
      return keyView(key)
    },

    async updateKey(id: string, keyId: string, status: 'active' | 'disabled', actor: Actor): Promise<ProviderKeyView> {
      const key = await getKey(id, keyId)
      await repo.updateKey(key.id, {
        status,
        // An admin's decision replaces the automatic one; a manually disabled key is never probed.
        disabledReason: status === 'disabled' ? 'disabled by an admin' : null,
        nextProbeAt: null,
        updatedAt: now().toISOString(),
      })
      s.providers.invalidate()
      await audit(actor, { action: 'provider.key.updated', targetType: 'provider_key', targetId: key.id, details: { channelId: id, hint: key.hint, status } })
      return keyView(await getKey(id, keyId))
    },

    async removeKey(id: string, keyId: string, actor: Actor): Promise<void> {
      const key = await getKey(id, keyId)
      await repo.deleteKey(key.id)
      s.providers.invalidate()
      await audit(actor, { action: 'provider.key.deleted', targetType: 'provider_key', targetId: key.id, details: { channelId: id, hint: key.hint } })
    },

    async testKey(id: string, keyId: string, actor: Actor): Promise<ProviderKeyTestResult> {
      const key = await getKey(id, keyId)
      const result = await s.providers.probeKey(key.id)
      await audit(actor, {
        action: 'provider.key.tested',
        targetType: 'provider_key',
        targetId: key.id,
        details: { channelId: id, hint: key.hint, ok: result.ok, ...(result.error ? { error: result.error.code } : {}) },
      })
      return { ...result, latencyMs: Math.round(result.latencyMs), key: keyView(await getKey(id, keyId)) }
    },
  }
}

export type ProvidersService = ReturnType<typeof createProvidersService>
