import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { PNG } from 'pngjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestApp, type TestApp } from '../../test/app'
import { testDialects } from '../../test/services'
import { bearer, registerUser, type TestAccount } from '../auth/testing'

/** A real 2×2 PNG. */
function png(): Buffer {
  const image = new PNG({ width: 2, height: 2 })
  image.data.fill(200)
  return PNG.sync.write(image)
}

/** A multipart/form-data body with one file field, built by hand so every header is under test control. */
function multipart(file: { name: string; type: string; bytes: Buffer }, field = 'file') {
  const boundary = `----qiao${randomBytes(8).toString('hex')}`
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${file.name}"\r\nContent-Type: ${file.type}\r\n\r\n`,
  )
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`)
  return {
    payload: Buffer.concat([head, file.bytes, tail]),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  }
}

/** Uploads, sniffing, limits, serving and ownership of files (SECURITY C3, C4, E4) — on every dialect. */
describe.each(testDialects())('files on %s', (dialect) => {
  let t: TestApp
  let alice: TestAccount
  let bob: TestAccount
  beforeAll(async () => {
    t = await createTestApp({ dialect })
    ;[alice, bob] = await Promise.all([registerUser(t), registerUser(t)])
  })
  afterAll(async () => {
    await t.close()
  })

  const upload = (file: { name: string; type: string; bytes: Buffer }, token = alice.accessToken) => {
    const body = multipart(file)
    return t.inject({
      method: 'POST',
      url: '/api/files',
      headers: { ...bearer(token), ...body.headers },
      payload: body.payload,
    })
  }
  const get = (url: string, token = alice.accessToken) => t.inject({ method: 'GET', url, headers: bearer(token) })

  it('accepts an image by its content, whatever its name and declared type, and serves it back to the owner', async () => {
    const bytes = png()
    const res = await upload({ name: 'notes.txt', type: 'text/plain', bytes })
    expect(res.statusCode).toBe(201)
    const info = res.json()
    expect(info).toEqual({
      id: info.id,
      name: 'notes.txt',
      mime: 'image/png',
      size: bytes.length,
      url: `/api/files/${info.id}/content`,
    })
    expect(info.id).toHaveLength(36)
    expect((await get(`/api/files/${info.id}`)).json()).toEqual(info)

    const content = await get(info.url)
    expect(content.statusCode).toBe(200)
    expect(content.rawPayload.equals(bytes)).toBe(true)
    expect(content.headers['content-type']).toBe('image/png')
    expect(content.headers['x-content-type-options']).toBe('nosniff')
    expect(content.headers['cache-control']).toMatch(/^private/)
    expect(content.headers['content-disposition']).toBe(`inline; filename="notes.txt"; filename*=UTF-8''notes.txt`)
    expect(content.headers['content-security-policy']).toContain('sandbox')

    const row = await t.deps.db.kysely
      .selectFrom('files')
      .selectAll()
      .where('id', '=', info.id)
      .executeTakeFirstOrThrow()
    expect(row.userId).toBe(alice.user.id)
    expect(row.sha256).toMatch(/^[0-9a-f]{64}$/)
    // The storage key is ours, never the uploaded name.
    expect(row.storageKey).toMatch(new RegExp(`^\\d{4}/\\d{2}/${info.id}$`))
  })

  it('sniffs JPEG, GIF and WEBP too', async () => {
    const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(64)])
    const gif = Buffer.concat([Buffer.from('GIF89a'), randomBytes(64)])
    const webp = Buffer.concat([
      Buffer.from('RIFF'),
      Buffer.from([0x40, 0, 0, 0]),
      Buffer.from('WEBPVP8 '),
      randomBytes(64),
    ])
    for (const [bytes, mime] of [
      [jpeg, 'image/jpeg'],
      [gif, 'image/gif'],
      [webp, 'image/webp'],
    ] as const) {
      const res = await upload({ name: 'x.bin', type: 'application/octet-stream', bytes })
      expect(res.statusCode).toBe(201)
      expect(res.json().mime).toBe(mime)
    }
  })

  it('E4: refuses HTML, SVG and other non-images even when named and typed as images (415)', async () => {
    for (const bytes of [
      Buffer.from('<html><script>alert(1)</script></html>'),
      Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'),
      Buffer.from('%PDF-1.7\n'),
      Buffer.from([0x89, 0x50, 0x4e, 0x47]), // a truncated PNG signature
      Buffer.alloc(0),
    ]) {
      const res = await upload({ name: 'cat.png', type: 'image/png', bytes })
      expect(res.statusCode).toBe(415)
      expect(res.json().error.code).toBe('UNSUPPORTED_MEDIA_TYPE')
    }
    const json = await t.inject({
      method: 'POST',
      url: '/api/files',
      headers: bearer(alice.accessToken),
      payload: { file: 'x' },
    })
    expect(json.statusCode).toBe(415)
    expect(await t.deps.db.kysely.selectFrom('files').select('id').where('name', '=', 'cat.png').execute()).toEqual([])
  })

  it('refuses a file over 10 MB with 413 and stores nothing', async () => {
    const big = Buffer.concat([png(), Buffer.alloc(10 * 1024 * 1024)])
    const res = await upload({ name: 'big.png', type: 'image/png', bytes: big })
    expect(res.statusCode).toBe(413)
    expect(res.json().error.code).toBe('PAYLOAD_TOO_LARGE')
    expect(await t.deps.db.kysely.selectFrom('files').select('id').where('name', '=', 'big.png').execute()).toEqual([])
  })

  it('keeps hostile file names out of headers', async () => {
    const res = await upload({ name: 'a";b=c\\北京.png', type: 'image/png', bytes: png() })
    expect(res.statusCode).toBe(201)
    const info = res.json()
    const disposition = String((await get(info.url)).headers['content-disposition'])
    expect(disposition).toMatch(/^inline; filename="[\x20-\x7e]*"; filename\*=UTF-8''[A-Za-z0-9%._~!-]+$/)
    expect(disposition.split('"').length).toBe(3)
    expect(decodeURIComponent(disposition.split("UTF-8''")[1]!)).toBe(info.name)
  })

  it('C3: another user gets 404 for the info, the content and the delete, and the file survives', async () => {
    const info = (await upload({ name: 'private.png', type: 'image/png', bytes: png() })).json()
    for (const res of [
      await get(`/api/files/${info.id}`, bob.accessToken),
      await get(info.url, bob.accessToken),
      await t.inject({ method: 'DELETE', url: `/api/files/${info.id}`, headers: bearer(bob.accessToken) }),
    ]) {
      expect(res.statusCode).toBe(404)
      expect(res.json().error.code).toBe('NOT_FOUND')
      expect(res.headers['content-type']).toMatch(/^application\/json/)
    }
    expect((await t.inject({ method: 'GET', url: info.url })).statusCode).toBe(401)
    expect((await get(info.url)).statusCode).toBe(200)
    const files = t.app.services.files
    await expect(files.readFile({ userId: bob.user.id, id: info.id })).rejects.toMatchObject({ code: 'NOT_FOUND' })
    const own = await files.readFile({ userId: alice.user.id, id: info.id })
    expect(own.mime).toBe('image/png')
  })

  it('C4: getOwnedFiles refuses a list that contains anyone else’s file', async () => {
    const mine = (await upload({ name: 'a.png', type: 'image/png', bytes: png() })).json()
    const mine2 = (await upload({ name: 'b.png', type: 'image/png', bytes: png() })).json()
    const theirs = (await upload({ name: 'c.png', type: 'image/png', bytes: png() }, bob.accessToken)).json()
    const files = t.app.services.files
    const rows = await files.getOwnedFiles({ userId: alice.user.id, ids: [mine2.id, mine.id, mine2.id] })
    expect(rows.map((r) => r.id)).toEqual([mine2.id, mine.id])
    await expect(files.getOwnedFiles({ userId: alice.user.id, ids: [mine.id, theirs.id] })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    })
    await expect(
      files.getOwnedFiles({ userId: alice.user.id, ids: ['0000000000nothing00000000000000000000'] }),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
    })
  })

  it('deletes the owner’s file and its stored content', async () => {
    const info = (await upload({ name: 'gone.png', type: 'image/png', bytes: png() })).json()
    const row = await t.deps.db.kysely
      .selectFrom('files')
      .selectAll()
      .where('id', '=', info.id)
      .executeTakeFirstOrThrow()
    const path = join(t.deps.config.QIAO_DATA_DIR, 'files', ...row.storageKey.split('/'))
    expect(existsSync(path)).toBe(true)
    const del = await t.inject({ method: 'DELETE', url: `/api/files/${info.id}`, headers: bearer(alice.accessToken) })
    expect(del.statusCode).toBe(204)
    expect((await get(info.url)).statusCode).toBe(404)
    expect(existsSync(path)).toBe(false)
  })
})
