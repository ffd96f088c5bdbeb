/**
 * Token estimates and turn cost. Estimates are used when an upstream sends no usage (a cut or an
 * aborted stream) and to trim the context; they lean high on purpose, so an interrupted turn is
 * never billed for less than what was delivered (SECURITY H5).
 */

/** Han, kana, hangul and CJK punctuation: most tokenizers spend about one token per character. */
const CJK = /[\u2E80-\u9FFF\uA960-\uA97F\uAC00-\uD7FF\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFFEF]|[\u{20000}-\u{3FFFF}]/u

/** Tokens a message costs beyond its text (role markers and separators). */
export const PER_MESSAGE_TOKENS = 4
/** What we assume an attached image costs when estimating a prompt (the upper end of tiled images). */
export const IMAGE_TOKENS_ESTIMATE = 1280

const WORD = /[\p{L}\p{N}_]/u

/**
 * A conservative token count: one per CJK character, and one per started group of four
 * characters in every run of word characters or of punctuation (tokenizers split the two).
 * Never 0 for a string with visible text.
 */
export function estimateTokens(text: string): number {
  let tokens = 0
  let run = 0
  let runIsWord = false
  for (const ch of text) {
    if (CJK.test(ch) || /\s/u.test(ch)) {
      tokens += Math.ceil(run / 4) + (/\s/u.test(ch) ? 0 : 1)
      run = 0
      continue
    }
    const isWord = WORD.test(ch)
    if (run > 0 && isWord !== runIsWord) {
      tokens += Math.ceil(run / 4)
      run = 0
    }
    runIsWord = isWord
    run += 1
  }
  return tokens + Math.ceil(run / 4)
}

export interface EstimatedMessage {
  text: string
  images?: number
}

/** Prompt tokens for a list of messages, overhead and images included. */
export function estimatePromptTokens(messages: readonly EstimatedMessage[]): number {
  let total = 0
  for (const m of messages) total += PER_MESSAGE_TOKENS + estimateTokens(m.text) + (m.images ?? 0) * IMAGE_TOKENS_ESTIMATE
  return total
}

/**
 * Cost in micro-yuan of a turn, from prices in micro-yuan per million tokens, rounded up so a
 * non-empty turn on a priced model never costs 0.
 */
export function turnCost(prices: { inputPerMTok?: number; outputPerMTok?: number }, inputTokens: number, outputTokens: number): number {
  // An exact integer numerator (well below 2^53 for any real turn), divided once: no float drift.
  const numerator = inputTokens * (prices.inputPerMTok ?? 0) + outputTokens * (prices.outputPerMTok ?? 0)
  return Math.ceil(numerator / 1e6)
}
