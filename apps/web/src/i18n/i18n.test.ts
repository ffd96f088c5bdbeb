import { ERROR_CODES } from '@qiao/shared'
import { describe, expect, it } from 'vitest'
import { en } from './en'
import { zhCN } from './zh-CN'

/** Every leaf as `path → value`, so two catalogues can be compared key by key. */
function flatten(tree: object, prefix = ''): Map<string, unknown> {
  const out = new Map<string, unknown>()
  for (const [key, value] of Object.entries(tree)) {
    const path = prefix ? `${prefix}.${key}` : key
    if (value && typeof value === 'object') for (const [k, v] of flatten(value as object, path)) out.set(k, v)
    else out.set(path, value)
  }
  return out
}

const placeholders = (text: string) => [...text.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]).sort()

describe('translations', () => {
  const zh = flatten(zhCN)
  const english = flatten(en)

  it('zh-CN and en have exactly the same keys', () => {
    expect([...english.keys()].sort()).toEqual([...zh.keys()].sort())
  })

  it('has no empty or non-string messages', () => {
    for (const [catalogue, name] of [
      [zh, 'zh-CN'],
      [english, 'en'],
    ] as const) {
      for (const [key, value] of catalogue) {
        expect(typeof value, `${name}:${key}`).toBe('string')
        expect((value as string).trim(), `${name}:${key}`).not.toBe('')
      }
    }
  })

  it('uses the same interpolation placeholders in both languages', () => {
    for (const [key, value] of zh) {
      expect(placeholders(english.get(key) as string), key).toEqual(placeholders(value as string))
    }
  })

  it('translates every server error code', () => {
    for (const code of ERROR_CODES) {
      expect(zh.has(`errors.${code}`), code).toBe(true)
    }
  })
})
