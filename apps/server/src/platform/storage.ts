import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { dirname, join, resolve, sep } from 'node:path'

/**
 * Where uploaded and generated files live. The local implementation writes under the data dir;
 * S3/OSS implementations will satisfy the same three calls. Keys are made by the caller from
 * generated ids (never from user input) and look like `2026/11/<id>`.
 */
export interface Storage {
  put(key: string, bytes: Buffer, mime: string): Promise<void>
  /** The stored bytes, or undefined when nothing is stored under the key. */
  get(key: string): Promise<Buffer | undefined>
  /** Removes the object; a missing key is not an error. */
  delete(key: string): Promise<void>
}

/** Lower-case letters, digits, `-` and `_`, in `/`-separated segments: no dots, so no `..`. */
const KEY_RE = /^[a-z0-9_-]{1,64}(\/[a-z0-9_-]{1,64}){0,4}$/

/** A storage key for a new object: `yyyy/mm/<id>` keeps any one folder from growing without bound. */
export function storageKey(id: string, at: Date): string {
  const yyyy = String(at.getUTCFullYear())
  const mm = String(at.getUTCMonth() + 1).padStart(2, '0')
  return `${yyyy}/${mm}/${id}`
}

/** Files on the local disk under `root` (normally `${QIAO_DATA_DIR}/files`). */
export class LocalStorage implements Storage {
  private readonly root: string

  constructor(root: string) {
    this.root = resolve(root)
  }

  /**
   * The absolute path of a key. Keys are ours, but the check is repeated here so that a bug
   * elsewhere can never turn into a read or write outside the root.
   */
  private pathOf(key: string): string {
    if (!KEY_RE.test(key)) throw new Error('Invalid storage key')
    const path = resolve(this.root, ...key.split('/'))
    if (!path.startsWith(this.root + sep)) throw new Error('Invalid storage key')
    return path
  }

  async put(key: string, bytes: Buffer, _mime: string): Promise<void> {
    const path = this.pathOf(key)
    await mkdir(dirname(path), { recursive: true })
    // Write then rename, so a crash never leaves a half-written file under the real key.
    const tmp = join(dirname(path), `.tmp-${randomBytes(8).toString('hex')}`)
    try {
      await writeFile(tmp, bytes, { mode: 0o600 })
      await rename(tmp, path)
    } catch (err) {
      await rm(tmp, { force: true })
      throw err
    }
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.pathOf(key))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true })
  }
}

/** The storage the configuration asks for. Only local storage exists so far. */
export function createStorage(config: { QIAO_DATA_DIR: string }): Storage {
  return new LocalStorage(join(config.QIAO_DATA_DIR, 'files'))
}
