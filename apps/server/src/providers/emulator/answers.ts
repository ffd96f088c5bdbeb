/**
 * What the emulator says: a pure function of the model and the conversation, so the same
 * request always gets the same answer, and one that plainly says it comes from the emulator.
 */
import type { ImageReference } from './images'
import { containsCjk, countTokens } from './tokenizer'

export interface ConversationFacts {
  model: string
  /** Text of the last user message ('' when it held only images). */
  lastUserText: string
  /** How many user messages the conversation has (the turn number). */
  userTurns: number
  /** Images attached to the last user message, in order. */
  images: readonly ImageReference[]
  /** Whether the answer should be a JSON object (`response_format: json_object`). */
  json?: boolean
}

export interface Answer {
  /** Reasoning text, shown before the answer by thinking models ('' otherwise). */
  reasoning: string
  content: string
}

/** A user message containing one of these asks for a long answer (~50+ stream chunks). */
const LONG_TRIGGER = /\blong\b|长/i

function quote(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  const chars = [...flat]
  if (chars.length === 0) return ''
  return chars.length > 60 ? `${chars.slice(0, 60).join('')}…` : flat
}

function describeImages(images: readonly ImageReference[], zh: boolean): string[] {
  return images.map((img, i) => {
    const n = i + 1
    if (img.kind === 'inline') {
      const format = img.info.format.toUpperCase()
      return zh ? `- 图片 ${n}：${format} 格式，${img.info.width}×${img.info.height} 像素` : `- Image ${n}: ${format}, ${img.info.width}×${img.info.height} pixels`
    }
    return zh ? `- 图片 ${n}：远程地址（模拟器不下载，格式未知）` : `- Image ${n}: a remote URL (not fetched by the emulator, format unknown)`
  })
}

/** The deterministic answer (and reasoning, when `thinking`) for a conversation. */
export function composeAnswer(facts: ConversationFacts, thinking: boolean): Answer {
  const zh = containsCjk(facts.lastUserText)
  const q = quote(facts.lastUserText)
  const long = LONG_TRIGGER.test(facts.lastUserText)
  const imageLines = describeImages(facts.images, zh)

  let content: string
  if (facts.json) {
    content = JSON.stringify({ emulator: true, model: facts.model, turn: facts.userTurns, question: q, images: facts.images.length })
  } else if (zh) {
    const lines = [
      `你好，这里是 **Qiao 模拟器**（${facts.model}），不是真实的模型。`,
      q ? `第 ${facts.userTurns} 轮，你的问题是：“${q}”` : `第 ${facts.userTurns} 轮，你没有输入文字。`,
      ...(imageLines.length > 0 ? [`你发送了 ${imageLines.length} 张图片：`, ...imageLines] : []),
      '简短说明：',
      '- 回答是确定的：同样的对话总是得到同样的回答。',
      '- 词元数由模拟器自己的分词规则计算。',
    ]
    if (long) {
      for (let i = 1; i <= 12; i++) lines.push(`${i}. 这是为测试流式输出而特意加长的第 ${i} 段，内容没有实际意义，只用来占位。`)
    }
    content = lines.join('\n')
  } else {
    const lines = [
      `Hello from the **Qiao emulator** (${facts.model}); I am not a real model.`,
      q ? `Turn ${facts.userTurns}, you asked: "${q}"` : `Turn ${facts.userTurns}, you sent no text.`,
      ...(imageLines.length > 0 ? [`You sent ${imageLines.length} image(s):`, ...imageLines] : []),
      'A short, fixed reply:',
      '- The answer is deterministic: the same conversation always gets the same answer.',
      "- Token counts come from the emulator's own tokenizer.",
    ]
    if (long) {
      for (let i = 1; i <= 12; i++) lines.push(`${i}. Paragraph ${i} of a deliberately long answer; it only exists so that streaming tests have many chunks.`)
    }
    content = lines.join('\n')
  }

  if (!thinking) return { reasoning: '', content }
  const reasoning = zh
    ? [`用户说：“${q}”。`, '我是模拟器，所以按固定模板回答。', ...(imageLines.length > 0 ? [`还要描述 ${imageLines.length} 张图片。`] : []), ...(long ? ['用户想要一个很长的回答，我会写十二段。'] : [])].join('')
    : [`The user wrote: "${q}".`, ' I am the emulator, so I answer with my fixed template.', ...(imageLines.length > 0 ? [` I should describe ${imageLines.length} image(s).`] : []), ...(long ? [' The user wants a long answer, so I will write twelve paragraphs.'] : [])].join('')
  return { reasoning, content }
}

// One atom is a single CJK character, or a non-space run with the spaces after it, or leading
// spaces; pieces are made of whole atoms.
const ATOMS = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u3000-\u303f\uff00-\uffef]|[^\s\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u3000-\u303f\uff00-\uffef]+\s*|\s+/gu

function atoms(text: string): string[] {
  return [...text.matchAll(ATOMS)].map((m) => m[0])
}

/**
 * Splits text into the small pieces the streams send (about 12 characters, CJK characters
 * counting double). Joining the pieces gives back the text exactly.
 */
export function splitPieces(text: string, target = 12): string[] {
  const pieces: string[] = []
  let current = ''
  let weight = 0
  for (const atom of atoms(text)) {
    current += atom
    weight += /^\s*$/.test(atom) ? 0 : atom.length === 1 && atom.charCodeAt(0) > 0x2fff ? 2 : atom.length
    if (weight >= target) {
      pieces.push(current)
      current = ''
      weight = 0
    }
  }
  if (current) pieces.push(current)
  return pieces
}

/**
 * The longest prefix of `text`, in whole atoms, that fits in `maxTokens`, and whether it was
 * cut. Used for `max_tokens` (finish_reason "length") and `thinking_budget`.
 */
export function truncateToTokens(text: string, maxTokens: number): { text: string; truncated: boolean } {
  if (countTokens(text) <= maxTokens) return { text, truncated: false }
  let out = ''
  for (const atom of atoms(text)) {
    if (countTokens(out + atom) > maxTokens) break
    out += atom
  }
  return { text: out, truncated: true }
}
