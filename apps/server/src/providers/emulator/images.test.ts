import { PNG } from 'pngjs'
import { describe, expect, it } from 'vitest'
import { drawPng, inspectImageReference, sniffImage } from './images'

function jpegHeader(width: number, height: number): Buffer {
  // SOI, an APP0 segment to skip, then SOF0 with the size.
  const app0 = Buffer.from([0xff, 0xe0, 0x00, 0x10, ...Buffer.from('JFIF\0'), 1, 1, 0, 0, 1, 0, 1, 0, 0])
  const sof = Buffer.alloc(19)
  sof.writeUInt16BE(0xffc0, 0)
  sof.writeUInt16BE(17, 2)
  sof[4] = 8
  sof.writeUInt16BE(height, 5)
  sof.writeUInt16BE(width, 7)
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app0, sof])
}

function gifHeader(width: number, height: number): Buffer {
  const b = Buffer.alloc(13)
  b.write('GIF89a', 0, 'latin1')
  b.writeUInt16LE(width, 6)
  b.writeUInt16LE(height, 8)
  return b
}

function webpLossless(width: number, height: number): Buffer {
  const b = Buffer.alloc(30)
  b.write('RIFF', 0, 'latin1')
  b.writeUInt32LE(22, 4)
  b.write('WEBPVP8L', 8, 'latin1')
  b.writeUInt32LE(9, 16)
  b[20] = 0x2f
  b.writeUInt32LE((width - 1) | ((height - 1) << 14), 21)
  return b
}

describe('image sniffing', () => {
  it('reads format and size from PNG, JPEG, GIF and WEBP headers', () => {
    const png = new PNG({ width: 33, height: 21 })
    expect(sniffImage(PNG.sync.write(png))).toEqual({ format: 'png', width: 33, height: 21 })
    expect(sniffImage(jpegHeader(640, 480))).toEqual({ format: 'jpeg', width: 640, height: 480 })
    expect(sniffImage(gifHeader(100, 50))).toEqual({ format: 'gif', width: 100, height: 50 })
    expect(sniffImage(webpLossless(300, 200))).toEqual({ format: 'webp', width: 300, height: 200 })
    expect(sniffImage(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'))).toBeUndefined()
  })

  it('refuses extreme aspect ratios in data URIs', () => {
    const uri = `data:image/gif;base64,${gifHeader(4000, 12).toString('base64')}`
    expect(inspectImageReference(uri)).toEqual({ kind: 'rejected', reason: 'bad_aspect' })
    expect(inspectImageReference(`data:image/gif;base64,${gifHeader(400, 120).toString('base64')}`)).toEqual({ kind: 'inline', info: { format: 'gif', width: 400, height: 120 } })
  })

  it('draws the same PNG for the same spec and a different one for another index', () => {
    const spec = { prompt: 'fox', seed: 1, index: 0, width: 64, height: 48 }
    const a = drawPng(spec)
    expect(drawPng(spec).equals(a)).toBe(true)
    expect(drawPng({ ...spec, index: 1 }).equals(a)).toBe(false)
    const decoded = PNG.sync.read(a)
    expect([decoded.width, decoded.height]).toEqual([64, 48])
  })
})
