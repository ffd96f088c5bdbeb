import { createHash } from 'node:crypto'
import type { FileInfo } from '@qiao/shared'
import type { AppDeps } from '../../context'
import { AppError, notFound } from '../../errors'
import { newId } from '../../ids'
import { createStorage, storageKey, type Storage } from '../../platform/storage'
import { safeFileName } from './content-disposition'
import { createFilesRepo, type FileRow } from './files.repo'
import { EXTENSION, sniffImage } from './sniff'

/** Largest accepted upload; the multipart parser enforces it while reading (413 beyond). */
export const MAX_FILE_BYTES = 10 * 1024 * 1024

export const fileUrl = (id: string) => `/api/files/${id}/content`

function toInfo(row: FileRow): FileInfo {
  return { id: row.id, name: row.name, mime: row.mime, size: row.size, url: fileUrl(row.id) }
}

/**
 * Images users upload for vision models. Only their owner ever sees or uses them: every lookup
 * is by (owner, id), and "not yours" looks exactly like "does not exist".
 */
export function createFilesService(deps: AppDeps, options: { storage?: Storage } = {}) {
  const repo = createFilesRepo(deps.db)
  const storage = options.storage ?? createStorage(deps.config)
  const now = () => (deps.now ? deps.now() : new Date())

  async function owned(userId: string, id: string): Promise<FileRow> {
    const row = await repo.findOwned(userId, id)
    if (!row) throw notFound('File')
    return row
  }

  return {
    /** Stores an upload. The type comes from the bytes; the name is kept only for display. */
    async upload({ userId, name, bytes }: { userId: string; name: string; bytes: Buffer }): Promise<FileInfo> {
      if (bytes.length > MAX_FILE_BYTES) throw new AppError('PAYLOAD_TOO_LARGE', 'The file is larger than 10 MB')
      const mime = sniffImage(bytes)
      if (!mime) {
        throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Only PNG, JPEG, GIF and WEBP images can be uploaded')
      }
      const at = now()
      const id = newId(at.getTime())
      const key = storageKey(id, at)
      await storage.put(key, bytes, mime)
      const row: FileRow = {
        id,
        userId,
        name: safeFileName(name, `image.${EXTENSION[mime]}`, 200),
        mime,
        size: bytes.length,
        storageKey: key,
        sha256: createHash('sha256').update(bytes).digest('hex'),
        createdAt: at.toISOString(),
      }
      try {
        await repo.insert(row)
      } catch (err) {
        // No row points at the object, so nobody could ever read or delete it: remove it now.
        await storage.delete(key).catch(() => undefined)
        throw err
      }
      return toInfo(row)
    },

    async getInfo({ userId, id }: { userId: string; id: string }): Promise<FileInfo> {
      return toInfo(await owned(userId, id))
    },

    /** The bytes of the caller's file (for the content route and for vision prompts as data URIs). */
    async readFile({
      userId,
      id,
    }: {
      userId: string
      id: string
    }): Promise<{ mime: string; name: string; bytes: Buffer }> {
      const row = await owned(userId, id)
      const bytes = await storage.get(row.storageKey)
      if (!bytes) {
        deps.logger.warn({ fileId: id, storageKey: row.storageKey }, 'file row without stored content')
        throw notFound('File')
      }
      return { mime: row.mime, name: row.name, bytes }
    },

    /**
     * The caller's files with these ids, in the order asked. Throws NOT_FOUND if any id is not
     * the caller's (SECURITY C4): another user's file id in a message must never reach a prompt.
     */
    async getOwnedFiles({ userId, ids }: { userId: string; ids: string[] }): Promise<FileRow[]> {
      const unique = [...new Set(ids)]
      const rows = await repo.listOwned(userId, unique)
      const byId = new Map(rows.map((r) => [r.id, r]))
      return unique.map((id) => {
        const row = byId.get(id)
        if (!row) throw notFound('File')
        return row
      })
    },

    toInfo,

    async delete({ userId, id }: { userId: string; id: string }): Promise<void> {
      const row = await owned(userId, id)
      await repo.deleteOwned(userId, id)
      // The row is gone, so the content is unreachable either way; a failed unlink only wastes disk.
      await storage.delete(row.storageKey).catch((err: unknown) => {
        deps.logger.warn({ err, fileId: id }, 'could not delete stored file content')
      })
    },
  }
}

export type FilesService = ReturnType<typeof createFilesService>
