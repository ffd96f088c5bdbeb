import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import type { MasterKeySet } from '../context'
import type { Db } from '../db/kysely'
import type { ProviderKeysTable } from '../db/schema'

/**
 * The provider-key vault: AES-256-GCM under the master key, a random 12-byte nonce per
 * encryption, stored as `base64(nonce | ciphertext | tag)` beside the id of the master key.
 * The additional authenticated data binds a ciphertext to its row, so copying one row's
 * ciphertext into another row fails to decrypt instead of silently swapping keys.
 */

const NONCE_BYTES = 12
const TAG_BYTES = 16

/** A ciphertext that cannot be opened: unknown master key, tampered bytes or the wrong row. */
export class VaultError extends Error {
  override readonly name = 'VaultError'
  constructor(
    readonly reason: 'unknown_master_key' | 'decrypt_failed',
    message: string,
  ) {
    super(message)
  }
}

export interface Sealed {
  ciphertext: string
  masterKeyId: string
}

/** What a provider key's ciphertext is bound to. */
export function providerKeyAad(keyRowId: string): string {
  return `qiao:provider_keys:${keyRowId}`
}

export interface Vault {
  readonly currentKeyId: string
  encrypt(plain: string, aad: string): Sealed
  /** Throws VaultError; never returns garbage. */
  decrypt(sealed: Sealed, aad: string): string
  /** True when the row is sealed under an old master key and should be re-encrypted. */
  isStale(masterKeyId: string): boolean
}

export function createVault(keys: MasterKeySet): Vault {
  const byId = new Map<string, Buffer>([[keys.current.id, keys.current.key], ...keys.old.map((k) => [k.id, k.key] as const)])
  return {
    currentKeyId: keys.current.id,
    encrypt(plain, aad) {
      const nonce = randomBytes(NONCE_BYTES)
      const cipher = createCipheriv('aes-256-gcm', keys.current.key, nonce)
      cipher.setAAD(Buffer.from(aad, 'utf8'))
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()])
      return {
        ciphertext: Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64'),
        masterKeyId: keys.current.id,
      }
    },
    decrypt(sealed, aad) {
      const key = byId.get(sealed.masterKeyId)
      if (!key) throw new VaultError('unknown_master_key', `master key ${sealed.masterKeyId} is not configured`)
      const raw = Buffer.from(sealed.ciphertext, 'base64')
      if (raw.length < NONCE_BYTES + TAG_BYTES) throw new VaultError('decrypt_failed', 'ciphertext is truncated')
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, NONCE_BYTES))
        decipher.setAAD(Buffer.from(aad, 'utf8'))
        decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES))
        return Buffer.concat([decipher.update(raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('utf8')
      } catch {
        // GCM authentication failed: tampered, truncated or bound to another row. No detail leaks.
        throw new VaultError('decrypt_failed', 'ciphertext failed authentication')
      }
    },
    isStale(masterKeyId) {
      return masterKeyId !== keys.current.id
    },
  }
}

/**
 * The only part of a key ever shown: its vendor prefix and last four characters (`sk-…a1b2`).
 * Short secrets show nothing but the prefix, since four characters of eight is half the key.
 */
export function hint(secret: string): string {
  const trimmed = secret.trim()
  const prefix = /^[A-Za-z]{1,6}-/.exec(trimmed)?.[0] ?? ''
  if (trimmed.length < 16) return `${prefix}…`
  return `${prefix}…${trimmed.slice(-4)}`
}

/**
 * A new, active provider-key row with the secret sealed to the row's id: the one way keys enter
 * the table (admin API, environment/emulator seeding, test factories).
 */
export function sealedKeyRow(vault: Vault, key: { id: string; channelId: string; secret: string; at: string }): ProviderKeysTable {
  const sealed = vault.encrypt(key.secret, providerKeyAad(key.id))
  return {
    id: key.id,
    channelId: key.channelId,
    ciphertext: sealed.ciphertext,
    masterKeyId: sealed.masterKeyId,
    hint: hint(key.secret),
    status: 'active',
    disabledReason: null,
    lastError: null,
    lastUsedAt: null,
    nextProbeAt: null,
    createdAt: key.at,
    updatedAt: key.at,
  }
}

export interface ReencryptReport {
  total: number
  reencrypted: number
  alreadyCurrent: number
  /** Rows that could not be decrypted with any configured key; they are disabled, not rewritten. */
  failed: number
}

/**
 * Re-encrypts every provider key under the current master key, in batches, while the app keeps
 * running: each row is rewritten only if its ciphertext is still the one we read, so a concurrent
 * lazy re-encryption or an admin replacing the key wins without a lost update.
 */
export async function reencryptAll(
  db: Db,
  keys: MasterKeySet,
  options: { batchSize?: number; now?: () => Date } = {},
): Promise<ReencryptReport> {
  const vault = createVault(keys)
  const batchSize = options.batchSize ?? 100
  const now = options.now ?? (() => new Date())
  const report: ReencryptReport = { total: 0, reencrypted: 0, alreadyCurrent: 0, failed: 0 }
  let after = ''
  for (;;) {
    const rows = await db.kysely
      .selectFrom('providerKeys')
      .select(['id', 'ciphertext', 'masterKeyId', 'status'])
      .where('id', '>', after)
      .orderBy('id')
      .limit(batchSize)
      .execute()
    if (rows.length === 0) break
    after = rows[rows.length - 1]!.id
    for (const row of rows) {
      report.total++
      if (!vault.isStale(row.masterKeyId)) {
        report.alreadyCurrent++
        continue
      }
      let plain: string
      try {
        plain = vault.decrypt(row, providerKeyAad(row.id))
      } catch {
        report.failed++
        await db.kysely
          .updateTable('providerKeys')
          .set({ status: 'disabled', disabledReason: 'decrypt_failed', updatedAt: now().toISOString() })
          .where('id', '=', row.id)
          .execute()
        continue
      }
      const sealed = vault.encrypt(plain, providerKeyAad(row.id))
      await db.kysely
        .updateTable('providerKeys')
        .set({ ciphertext: sealed.ciphertext, masterKeyId: sealed.masterKeyId, updatedAt: now().toISOString() })
        .where('id', '=', row.id)
        .where('ciphertext', '=', row.ciphertext)
        .execute()
      report.reencrypted++
    }
  }
  return report
}
