import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { LocalStorage, storageKey } from './storage'

describe('LocalStorage', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qiao-storage-'))
  const storage = new LocalStorage(join(dir, 'files'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('puts, gets and deletes bytes under a key', async () => {
    const key = storageKey('01abc', new Date(Date.UTC(2026, 10, 5)))
    expect(key).toBe('2026/11/01abc')
    await storage.put(key, Buffer.from('hello'), 'image/png')
    expect((await storage.get(key))?.toString()).toBe('hello')
    // No temporary files are left behind next to the object.
    expect(readdirSync(join(dir, 'files', '2026', '11'))).toEqual(['01abc'])
    await storage.delete(key)
    expect(await storage.get(key)).toBeUndefined()
    await storage.delete(key)
  })

  it('refuses keys that could leave the root', async () => {
    for (const key of ['../x', 'a/../../x', '/etc/passwd', 'a/./b', 'a//b', 'A', '', 'a\\b', 'a/b.png']) {
      await expect(storage.put(key, Buffer.from('x'), 'image/png'), key).rejects.toThrow('Invalid storage key')
      await expect(storage.get(key), key).rejects.toThrow('Invalid storage key')
    }
  })
})
