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
