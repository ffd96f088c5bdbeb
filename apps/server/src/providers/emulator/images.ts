/**
 * Image helpers: recognising input images (magic bytes and pixel size, without a decoder) and
 * drawing the deterministic PNGs the image tasks return.
 */
import { createHash } from 'node:crypto'
import { PNG } from 'pngjs'

export type ImageFormat = 'png' | 'jpeg' | 'gif' | 'webp'

export interface ImageInfo {
  format: ImageFormat
  width: number
  height: number
}

/** Format and size from the file header, or undefined when the bytes are not such an image. */
export function sniffImage(buf: Buffer): ImageInfo | undefined {
  if (buf.length >= 24 && buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) && buf.toString('latin1', 12, 16) === 'IHDR') {
    return { format: 'png', width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) }
  }
  if (buf.length >= 10 && (buf.toString('latin1', 0, 6) === 'GIF87a' || buf.toString('latin1', 0, 6) === 'GIF89a')) {
    return { format: 'gif', width: buf.readUInt16LE(6), height: buf.readUInt16LE(8) }
  }
  if (buf.length >= 4 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return sniffJpeg(buf)
  if (buf.length >= 30 && buf.toString('latin1', 0, 4) === 'RIFF' && buf.toString('latin1', 8, 12) === 'WEBP') return sniffWebp(buf)
  return undefined
}

function sniffJpeg(buf: Buffer): ImageInfo | undefined {
  // Walk the marker segments up to the first start-of-frame, which holds the size.
  let i = 2
  while (i + 9 < buf.length) {
    if (buf[i] !== 0xff) return undefined
    const marker = buf[i + 1]!
    if (marker === 0xff) {
      i++
      continue
    }
    const length = buf.readUInt16BE(i + 2)
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc
    if (isSof) return { format: 'jpeg', height: buf.readUInt16BE(i + 5), width: buf.readUInt16BE(i + 7) }
    i += 2 + length
  }
  return undefined
}

function sniffWebp(buf: Buffer): ImageInfo | undefined {
  const chunk = buf.toString('latin1', 12, 16)
  if (chunk === 'VP8 ' && buf[23] === 0x9d && buf[24] === 0x01 && buf[25] === 0x2a) {
    return { format: 'webp', width: buf.readUInt16LE(26) & 0x3fff, height: buf.readUInt16LE(28) & 0x3fff }
  }
  if (chunk === 'VP8L' && buf[20] === 0x2f) {
    const bits = buf.readUInt32LE(21)
    return { format: 'webp', width: (bits & 0x3fff) + 1, height: ((bits >> 14) & 0x3fff) + 1 }
  }
  if (chunk === 'VP8X') {
    return { format: 'webp', width: buf.readUIntLE(24, 3) + 1, height: buf.readUIntLE(27, 3) + 1 }
  }
  return undefined
}

/** Why an image reference was refused; the caller words it in its protocol. */
export type ImageRejection = 'not_base64' | 'not_an_image' | 'too_large' | 'too_small' | 'bad_aspect' | 'bad_url'

export type ImageReference = { kind: 'inline'; info: ImageInfo } | { kind: 'remote'; url: string } | { kind: 'rejected'; reason: ImageRejection }

/** Largest decoded data-URI image the providers accept. */
export const MAX_INLINE_IMAGE_BYTES = 10 * 1024 * 1024

/**
 * Checks an image reference as the VL endpoints do. Data URIs must be base64 and decode to a
 * real image of a sane size; http(s) URLs are accepted but never fetched (the emulator has no
 * network), so their format is unknown.
 */
export function inspectImageReference(ref: unknown): ImageReference {
  if (typeof ref !== 'string' || ref.length === 0) return { kind: 'rejected', reason: 'bad_url' }
  if (/^https?:\/\//i.test(ref)) return { kind: 'remote', url: ref }
  const match = /^data:([^,]*),(.*)$/s.exec(ref)
  if (!match) return { kind: 'rejected', reason: 'bad_url' }
  const meta = match[1]!.split(';').map((s) => s.trim().toLowerCase())
  if (!meta.includes('base64')) return { kind: 'rejected', reason: 'not_base64' }
  const payload = match[2]!.replace(/\s+/g, '')
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(payload)) return { kind: 'rejected', reason: 'not_base64' }
  if ((payload.length * 3) / 4 > MAX_INLINE_IMAGE_BYTES + 3) return { kind: 'rejected', reason: 'too_large' }
  const info = sniffImage(Buffer.from(payload, 'base64'))
  if (!info) return { kind: 'rejected', reason: 'not_an_image' }
  if (info.width < 10 || info.height < 10) return { kind: 'rejected', reason: 'too_small' }
  if (Math.max(info.width, info.height) / Math.min(info.width, info.height) > 200) return { kind: 'rejected', reason: 'bad_aspect' }
  return { kind: 'inline', info }
}

export const IMAGE_REJECTION_MESSAGES: Record<ImageRejection, string> = {
  not_base64: 'The image data URI must be base64 encoded (data:image/<type>;base64,...).',
  not_an_image: 'The image format is illegal and cannot be opened.',
  too_large: 'The image is too large: at most 10 MB is allowed.',
  too_small: 'The image length and width must be at least 10 pixels.',
  bad_aspect: 'The aspect ratio of the image must not exceed 200:1.',
  bad_url: 'url error, please check url!',
}

export interface DrawSpec {
  prompt: string
  seed: number
  index: number
  width: number
  height: number
}

/**
 * A PNG that is a pure function of (prompt, seed, index, size): a diagonal two-colour gradient
 * with a few discs, so different prompts visibly differ and tests can compare bytes.
 */
export function drawPng(spec: DrawSpec): Buffer {
  const digest = createHash('sha256').update(`${spec.prompt}\u0000${spec.seed}\u0000${spec.index}`).digest()
  const png = new PNG({ width: spec.width, height: spec.height, colorType: 2 })
  const { width, height } = spec
  const from = [digest[0]!, digest[1]!, digest[2]!]
  const to = [digest[3]!, digest[4]!, digest[5]!]
  const discs = [0, 1, 2].map((k) => ({
    x: (digest[6 + k * 5]! / 255) * width,
    y: (digest[7 + k * 5]! / 255) * height,
    r: ((digest[8 + k * 5]! / 255) * 0.25 + 0.05) * Math.min(width, height),
    color: [digest[9 + k * 5]!, digest[10 + k * 5]!, 255 - digest[9 + k * 5]!],
  }))
  const data = png.data
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = (x / width + y / height) / 2
      let r = from[0]! + (to[0]! - from[0]!) * t
      let g = from[1]! + (to[1]! - from[1]!) * t
      let b = from[2]! + (to[2]! - from[2]!) * t
      for (const d of discs) {
        const dx = x - d.x
        const dy = y - d.y
        if (dx * dx + dy * dy <= d.r * d.r) {
          r = d.color[0]!
          g = d.color[1]!
          b = d.color[2]!
        }
      }
      const o = (y * width + x) * 4
      data[o] = r
      data[o + 1] = g
      data[o + 2] = b
      data[o + 3] = 255
    }
  }
  return PNG.sync.write(png, { colorType: 2 })
}
