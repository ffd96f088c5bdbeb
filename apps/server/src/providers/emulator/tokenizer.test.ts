import { describe, expect, it } from 'vitest'
import { composeAnswer, splitPieces, truncateToTokens } from './answers'
import { cachedPromptTokens, countPromptTokens, countTokens, imageTokens, MESSAGE_OVERHEAD_TOKENS } from './tokenizer'

describe('emulator tokenizer', () => {
  it('counts each CJK character as one token and other runs as ceil(length / 4)', () => {
    expect(countTokens('')).toBe(0)
    expect(countTokens('   \n')).toBe(0)
    expect(countTokens('你好')).toBe(2)
    expect(countTokens('hello')).toBe(2)
    expect(countTokens('abcd efgh')).toBe(2)
    expect(countTokens('hi, 世界!')).toBe(1 + 1 + 2 + 1)
    expect(countTokens('abc中文def')).toBe(1 + 2 + 1)
    expect(countTokens('こんにちは')).toBe(5)
  })

  it('never counts a prefix higher than the whole text', () => {
    const text = composeAnswer({ model: 'qwen-plus', lastUserText: 'a long answer please, 谢谢', userTurns: 1, images: [] }, true).content
    let previous = 0
    for (let i = 0; i <= text.length; i++) {
      const n = countTokens(text.slice(0, i))
      expect(n).toBeGreaterThanOrEqual(previous)
      previous = n
    }
  })

  it('adds the per-message overhead and image tiles to prompt tokens', () => {
    expect(countPromptTokens([{ role: 'user', text: 'hello' }]).total).toBe(MESSAGE_OVERHEAD_TOKENS + 2)
    expect(imageTokens(28, 28)).toBe(4)
    expect(imageTokens(280, 280)).toBe(100)
    expect(imageTokens(10_000, 10_000)).toBe(1280)
    expect(countPromptTokens([{ role: 'user', text: '', images: [{ width: 280, height: 280 }] }])).toEqual({ total: MESSAGE_OVERHEAD_TOKENS + 100, image: 100 })
  })

  it('treats earlier turns of 256+ tokens as cached, in 64-token blocks', () => {
    expect(cachedPromptTokens([{ role: 'user', text: 'x' }])).toBe(0)
    const long = [{ role: 'system', text: 'word '.repeat(300) }, { role: 'user', text: 'q' }]
    expect(cachedPromptTokens(long)).toBe(Math.floor((300 + MESSAGE_OVERHEAD_TOKENS) / 64) * 64)
  })
})

describe('emulator answers', () => {
  it('splits into pieces that join back to the exact text', () => {
    for (const lastUserText of ['Who are you?', '你好，介绍一下你自己', 'long please']) {
      const { content } = composeAnswer({ model: 'm', lastUserText, userTurns: 2, images: [] }, false)
      const pieces = splitPieces(content)
      expect(pieces.join('')).toBe(content)
      expect(pieces.length).toBeGreaterThan(5)
    }
  })

  it('truncates to a token budget on whole atoms', () => {
    const { text, truncated } = truncateToTokens('one two three four five six', 3)
    expect(truncated).toBe(true)
    expect(countTokens(text)).toBeLessThanOrEqual(3)
    expect('one two three four five six'.startsWith(text)).toBe(true)
    expect(truncateToTokens('short', 10)).toEqual({ text: 'short', truncated: false })
  })
})
