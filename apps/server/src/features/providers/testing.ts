import type { MasterKeySet } from '../../context'
import type { Db } from '../../db/kysely'
import type { ProviderChannelsTable } from '../../db/schema'
import { newId } from '../../ids'
import { createVault, sealedKeyRow } from '../../platform/vault'

/** Test factory: a channel and its keys written straight to the database. Not used by production code. */
let seq = 0

export async function addChannel(
  db: Db,
  masterKeys: MasterKeySet,
  spec: {
    type?: ProviderChannelsTable['type']
    baseUrl: string
    models: string[]
    keys: string[]
    priority?: number
    weight?: number
    source?: ProviderChannelsTable['source']
    name?: string
  },
): Promise<{ channelId: string; keyIds: string[] }> {
  const vault = createVault(masterKeys)
  const at = new Date().toISOString()
  // Ids sort by creation time; spacing them keeps the key order the test wrote.
  const base = Date.now() + (seq += 1000)
  const channelId = newId(base)
  await db.kysely
    .insertInto('providerChannels')
    .values({
      id: channelId,
      type: spec.type ?? 'dashscope',
      name: spec.name ?? `test ${channelId.slice(-6)}`,
      baseUrl: spec.baseUrl,
      models: JSON.stringify(spec.models),
      weight: spec.weight ?? 1,
      priority: spec.priority ?? 0,
      enabled: 1,
      emulated: 0,
      source: spec.source ?? 'env',
      options: '{}',
      lastError: null,
      createdAt: at,
      updatedAt: at,
    })
    .execute()
  const keyIds: string[] = []
  for (const [i, secret] of spec.keys.entries()) {
    const id = newId(base + i + 1)
    await db.kysely
      .insertInto('providerKeys')
      .values(sealedKeyRow(vault, { id, channelId, secret, at }))
      .execute()
    keyIds.push(id)
  }
  return { channelId, keyIds }
}

/** The bearer key a recorded upstream request carried. */
export function bearerOf(headers: Record<string, string | string[] | undefined>): string | undefined {
  const v = headers.authorization
  const s = Array.isArray(v) ? v[0] : v
  return s?.replace(/^Bearer\s+/i, '')
}
