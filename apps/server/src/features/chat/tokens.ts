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
const SPACE = /\s/u

/** ASCII word characters: `[A-Za-z0-9_]`, what WORD matches below 0x80. */
function isAsciiWord(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a) || code === 0x5f
}

/**
 * A conservative token count: one per CJK character, and one per started group of four
 * characters in every run of word characters or of punctuation (tokenizers split the two).
 * Never 0 for a string with visible text. ASCII is classified by code (it runs over every prompt
 * and answer); other characters by the Unicode classes above.
 */
export function estimateTokens(text: string): number {
  let tokens = 0
  let run = 0
  let runIsWord = false
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    let space: boolean
    let cjk: boolean
    let isWord: boolean
    if (code < 0x80) {
      // /\s/ below 0x80: tab, line feed, vertical tab, form feed, carriage return, space.
      space = code === 0x20 || (code >= 0x09 && code <= 0x0d)
      cjk = false
      isWord = isAsciiWord(code)
    } else {
      let ch = text[i]!
      // A surrogate pair is one character (one code point), as `for…of` would see it.
      if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
        const low = text.charCodeAt(i + 1)
        if (low >= 0xdc00 && low <= 0xdfff) {
          ch = text.slice(i, i + 2)
          i++
        }
      }
      space = SPACE.test(ch)
      cjk = CJK.test(ch)
      isWord = WORD.test(ch)
    }
    if (cjk || space) {
      tokens += Math.ceil(run / 4) + (space ? 0 : 1)
      run = 0
      continue
    }
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
