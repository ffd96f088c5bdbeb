import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import type { MasterKeySet } from '../context'
import { masterKeyId } from './keys'
import { createVault, hint, providerKeyAad, VaultError } from './vault'

function keySet(current: Buffer, ...old: Buffer[]): MasterKeySet {
  return { current: { id: masterKeyId(current), key: current }, old: old.map((key) => ({ id: masterKeyId(key), key })) }
}

describe('vault (AES-256-GCM)', () => {
  const a = randomBytes(32)
  const b = randomBytes(32)
  const secret = 'sk-0123456789abcdefa1b2'

  it('round-trips and records the master key id', () => {
    const vault = createVault(keySet(a))
    const sealed = vault.encrypt(secret, providerKeyAad('row1'))
    expect(sealed.masterKeyId).toBe(masterKeyId(a))
    expect(sealed.ciphertext).not.toContain(secret)
    expect(Buffer.from(sealed.ciphertext, 'base64').toString('latin1')).not.toContain(secret)
    expect(vault.decrypt(sealed, providerKeyAad('row1'))).toBe(secret)
  })

  it('uses a fresh nonce every time', () => {
    const vault = createVault(keySet(a))
    const one = vault.encrypt(secret, 'x').ciphertext
    const two = vault.encrypt(secret, 'x').ciphertext
    expect(one).not.toBe(two)
    expect(Buffer.from(one, 'base64').subarray(0, 12).equals(Buffer.from(two, 'base64').subarray(0, 12))).toBe(false)
  })

  it('refuses a ciphertext with any single flipped bit (J1)', () => {
    const vault = createVault(keySet(a))
    const sealed = vault.encrypt(secret, providerKeyAad('row1'))
    const raw = Buffer.from(sealed.ciphertext, 'base64')
    for (const position of [0, 11, 12, raw.length - 17, raw.length - 1]) {
      const tampered = Buffer.from(raw)
      tampered[position]! ^= 0x01
      expect(() => vault.decrypt({ ...sealed, ciphertext: tampered.toString('base64') }, providerKeyAad('row1'))).toThrow(VaultError)
    }
  })

  it('refuses a ciphertext moved to another row', () => {
    const vault = createVault(keySet(a))
    const sealed = vault.encrypt(secret, providerKeyAad('row1'))
    expect(() => vault.decrypt(sealed, providerKeyAad('row2'))).toThrow(VaultError)
  })

  it('decrypts under an old key by id, refuses an unknown key id, and flags stale rows', () => {
    const sealedUnderA = createVault(keySet(a)).encrypt(secret, 'aad')
    const rotated = createVault(keySet(b, a))
    expect(rotated.decrypt(sealedUnderA, 'aad')).toBe(secret)
    expect(rotated.isStale(sealedUnderA.masterKeyId)).toBe(true)
    expect(rotated.isStale(masterKeyId(b))).toBe(false)
    const withoutA = createVault(keySet(b))
    expect(() => withoutA.decrypt(sealedUnderA, 'aad')).toThrow(/not configured/)
    // Same id, wrong key material: authentication fails rather than returning garbage.
    expect(() => createVault({ current: { id: masterKeyId(a), key: b }, old: [] }).decrypt(sealedUnderA, 'aad')).toThrow(VaultError)
  })

  it('shows only a hint of a key', () => {
    expect(hint('sk-0123456789abcdefa1b2')).toBe('sk-…a1b2')
    expect(hint('  sk-0123456789abcdefa1b2 \n')).toBe('sk-…a1b2')
    expect(hint('0123456789abcdefwxyz')).toBe('…wxyz')
    // Too short to show four characters without giving much of it away.
    expect(hint('sk-short')).toBe('sk-…')
  })
})
