import { describe, expect, it } from 'vitest'
import { contentDisposition, safeFileName } from './content-disposition'
import { sniffImage } from './sniff'

describe('sniffImage', () => {
  it('knows PNG, JPEG, GIF and WEBP by their magic bytes', () => {
    expect(sniffImage(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0]))).toBe('image/png')
    expect(sniffImage(Buffer.from([0xff, 0xd8, 0xff, 0xdb]))).toBe('image/jpeg')
    expect(sniffImage(Buffer.from('GIF87a...'))).toBe('image/gif')
    expect(sniffImage(Buffer.from('RIFF\x10\x00\x00\x00WEBPVP8 ', 'latin1'))).toBe('image/webp')
  })

  it('refuses everything else, including near misses', () => {
    for (const text of ['<html>', '<svg/>', 'GIF90a', 'RIFF\x10\x00\x00\x00WAVEfmt ', '\x89PNG', '']) {
      expect(sniffImage(Buffer.from(text, 'latin1'))).toBeUndefined()
    }
  })
})

describe('contentDisposition', () => {
  it('quotes an ASCII fallback and carries the exact name as filename*', () => {
    expect(contentDisposition('inline', 'cat.png')).toBe(`inline; filename="cat.png"; filename*=UTF-8''cat.png`)
    const header = contentDisposition('attachment', '北京 "plan";\r\nX-Evil: 1.md')
    expect(header).not.toMatch(/[\r\n]/)
    expect(header.split('"')).toHaveLength(3)
    expect(decodeURIComponent(header.split("UTF-8''")[1]!)).toBe('北京 "plan";\r\nX-Evil: 1.md')
  })
})

describe('safeFileName', () => {
  it('removes separators, reserved and control characters, and leading dots', () => {
    expect(safeFileName('../../etc/passwd', 'x')).toBe('_.._etc_passwd')
    expect(safeFileName('a:b*c?d"e<f>g|h\u0000i', 'x')).toBe('a_b_c_d_e_f_g_h_i')
    expect(safeFileName('   ', 'fallback')).toBe('fallback')
    expect(safeFileName('长'.repeat(300), 'x', 10)).toBe('长'.repeat(10))
  })
})
