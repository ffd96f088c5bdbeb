import { describe, expect, it } from 'vitest'
import { countTokens } from '../../providers/emulator/tokenizer'
import { estimatePromptTokens, estimateTokens, turnCost } from './tokens'

describe('estimateTokens', () => {
  it('counts CJK characters one each and other runs by started groups of four', () => {
    expect(estimateTokens('')).toBe(0)
    expect(estimateTokens('   \n')).toBe(0)
    expect(estimateTokens('a')).toBe(1)
    expect(estimateTokens('abcd abcde')).toBe(3)
    expect(estimateTokens('你好，世界')).toBe(5)
    expect(estimateTokens('hello世界')).toBe(4)
  })

  it('H5: is never below the emulator’s exact count for delivered text', () => {
    const samples = ['Hello, world! This is a test.', '我想去北京旅游，请推荐景点。', 'mixed 中英文 text, with punctuation!!! and numbers 12345', '<script>alert(1)</script>']
    for (const s of samples) expect(estimateTokens(s)).toBeGreaterThanOrEqual(countTokens(s))
  })

  it('classifies ASCII by code exactly as the Unicode classes would, surrogate pairs and lone halves included', () => {
    // The definition the fast path must agree with: one code point at a time, by regex.
    const reference = (text: string): number => {
      let tokens = 0
      let run = 0
      let runIsWord = false
      for (const ch of text) {
        if (/[\u2E80-\u9FFF\uA960-\uA97F\uAC00-\uD7FF\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFFEF]|[\u{20000}-\u{3FFFF}]/u.test(ch) || /\s/u.test(ch)) {
          tokens += Math.ceil(run / 4) + (/\s/u.test(ch) ? 0 : 1)
          run = 0
          continue
        }
        const isWord = /[\p{L}\p{N}_]/u.test(ch)
        if (run > 0 && isWord !== runIsWord) {
          tokens += Math.ceil(run / 4)
          run = 0
        }
        runIsWord = isWord
        run += 1
      }
      return tokens + Math.ceil(run / 4)
    }
    const alphabet = ['a', 'Z', '0', '_', '-', '!', ' ', '\t', '\n', '\v', '\f', '\r', '\u00a0', '\u3000', 'é', 'ß', '你', '，', '한', '😀', '𠀀', '\ud83d', '\ude00', '\u0085', '٣', '\x7f', '\x1f']
    let seed = 7
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31)
    for (let n = 0; n < 2_000; n++) {
      let s = ''
      for (let k = next() % 24; k > 0; k--) s += alphabet[next() % alphabet.length]
      expect(estimateTokens(s), JSON.stringify(s)).toBe(reference(s))
    }
  })

  it('adds per-message overhead and images to a prompt', () => {
    expect(estimatePromptTokens([{ text: 'abcd' }, { text: '', images: 1 }])).toBe(4 + 1 + 4 + 1280)
  })
})

describe('turnCost', () => {
  it('prices input and output per million tokens, rounding up, without float drift', () => {
    expect(turnCost({ inputPerMTok: 800_000, outputPerMTok: 2_000_000 }, 10, 5)).toBe(18)
    expect(turnCost({ inputPerMTok: 800_000, outputPerMTok: 2_000_000 }, 1, 0)).toBe(1)
    expect(turnCost({ inputPerMTok: 300_000, outputPerMTok: 600_000 }, 1_000_000, 1_000_000)).toBe(900_000)
    expect(turnCost({}, 100, 100)).toBe(0)
    expect(turnCost({ inputPerMTok: 800_000 }, 0, 0)).toBe(0)
  })
})
