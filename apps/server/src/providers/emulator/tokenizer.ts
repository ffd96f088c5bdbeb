/**
 * The emulator's tokenizer. Not any real model's vocabulary, but stable and simple enough that
 * tests can recompute every count the emulator reports:
 * - each CJK character (Han, kana, Hangul) is one token;
 * - each other run of letters/digits, or of punctuation/symbols, costs ceil(length / 4);
 * - whitespace is free.
 * Counting a prefix never gives more than counting the whole text, so cumulative stream usage
 * only grows.
 */

const CJK = '\\p{Script=Han}\\p{Script=Hiragana}\\p{Script=Katakana}\\p{Script=Hangul}'
const TOKEN_RUNS = new RegExp(`[${CJK}]|(?:(?![${CJK}])[\\p{L}\\p{N}\\p{M}_])+|(?:(?![${CJK}])[^\\s\\p{L}\\p{N}\\p{M}_])+`, 'gu')
const CJK_CHAR = new RegExp(`^[${CJK}]$`, 'u')

/** Tokens in `text`. */
export function countTokens(text: string): number {
  let tokens = 0
  for (const match of text.matchAll(TOKEN_RUNS)) {
    const run = match[0]
    tokens += CJK_CHAR.test(run) ? 1 : Math.ceil([...run].length / 4)
  }
  return tokens
}

/** True when the text contains a CJK character (the emulator then answers in Chinese). */
export function containsCjk(text: string): boolean {
  return /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u.test(text)
}

/** Tokens billed for one input image of this size: one per 28×28 tile, between 4 and 1280. */
export function imageTokens(width: number, height: number): number {
  return Math.min(1280, Math.max(4, Math.ceil(width / 28) * Math.ceil(height / 28)))
}

/** Role markers and separators cost this much per message on top of its text. */
export const MESSAGE_OVERHEAD_TOKENS = 4

export interface PromptMessage {
  role: string
  /** All text parts of the message joined with '\n'. */
  text: string
  images?: readonly { width: number; height: number }[]
}

export interface PromptCount {
  /** Text plus image tokens: what `prompt_tokens` / `input_tokens` report. */
  total: number
  image: number
}

/** Prompt tokens of a conversation: per message the overhead, its text and its images. */
export function countPromptTokens(messages: readonly PromptMessage[]): PromptCount {
  let total = 0
  let image = 0
  for (const m of messages) {
    total += MESSAGE_OVERHEAD_TOKENS + countTokens(m.text)
    for (const img of m.images ?? []) image += imageTokens(img.width, img.height)
  }
  return { total: total + image, image }
}

/**
 * Tokens served from the provider's prompt cache: the emulator pretends everything before the
 * last user message was cached (as it is in a multi-turn chat), in 64-token blocks, once that
 * prefix reaches 256 tokens. A pure function of the messages, so answers stay deterministic.
 */
export function cachedPromptTokens(messages: readonly PromptMessage[]): number {
  let lastUser = -1
  messages.forEach((m, i) => {
    if (m.role === 'user') lastUser = i
  })
  if (lastUser <= 0) return 0
  const prefix = countPromptTokens(messages.slice(0, lastUser)).total
  return prefix >= 256 ? Math.floor(prefix / 64) * 64 : 0
}
