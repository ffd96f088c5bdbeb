/**
 * The protocol-independent part of a chat call: checking the images in a conversation,
 * composing the answer and counting tokens. Each protocol module turns its own wire format
 * into `RawMessage`s and renders the resulting `Completion` back.
 */
import { composeAnswer, splitPieces, truncateToTokens } from './answers'
import { IMAGE_REJECTION_MESSAGES, inspectImageReference, type ImageReference } from './images'
import type { EmulatorModel } from './models'
import { Reject } from './protocol-errors'
import { cachedPromptTokens, countPromptTokens, countTokens, type PromptMessage } from './tokenizer'

export type RawPart = { text: string } | { image: unknown }

export interface RawMessage {
  role: string
  parts: RawPart[]
}

export interface Conversation {
  messages: PromptMessage[]
  lastUserText: string
  userTurns: number
  lastUserImages: ImageReference[]
}

/** Inspects every image (refusing bad ones as the VL endpoints do) and collects the facts. */
export function readConversation(raw: readonly RawMessage[]): Conversation {
  const messages: PromptMessage[] = []
  let lastUserText = ''
  let lastUserImages: ImageReference[] = []
  let userTurns = 0
  for (const m of raw) {
    const texts: string[] = []
    const refs: ImageReference[] = []
    for (const part of m.parts) {
      if ('text' in part) {
        texts.push(part.text)
        continue
      }
      const ref = inspectImageReference(part.image)
      if (ref.kind === 'rejected') throw new Reject('invalid_parameter', IMAGE_REJECTION_MESSAGES[ref.reason])
      refs.push(ref)
    }
    const text = texts.join('\n')
    // Remote images are never fetched; they are billed as a 448×448 picture.
    const sizes = refs.map((r) => (r.kind === 'inline' ? { width: r.info.width, height: r.info.height } : { width: 448, height: 448 }))
    messages.push({ role: m.role, text, images: sizes })
    if (m.role === 'user') {
      userTurns++
      lastUserText = text
      lastUserImages = refs
    }
  }
  return { messages, lastUserText, userTurns, lastUserImages }
}

export interface CompletionRequest {
  model: EmulatorModel
  conversation: Conversation
  thinking: boolean
  maxTokens?: number
  thinkingBudget?: number
  json?: boolean
}

export interface Completion {
  reasoning: string
  content: string
  reasoningPieces: string[]
  contentPieces: string[]
  finishReason: 'stop' | 'length'
  promptTokens: number
  imageTokens: number
  cachedTokens: number
  reasoningTokens: number
  /** Reasoning plus answer tokens. */
  completionTokens: number
}

export function complete(req: CompletionRequest): Completion {
  const answer = composeAnswer(
    { model: req.model.id, lastUserText: req.conversation.lastUserText, userTurns: req.conversation.userTurns, images: req.conversation.lastUserImages, json: req.json ?? false },
    req.thinking,
  )
  const reasoning = req.thinkingBudget === undefined ? answer.reasoning : truncateToTokens(answer.reasoning, req.thinkingBudget).text
  const content = req.maxTokens === undefined ? { text: answer.content, truncated: false } : truncateToTokens(answer.content, req.maxTokens)
  const prompt = countPromptTokens(req.conversation.messages)
  const reasoningTokens = countTokens(reasoning)
  return {
    reasoning,
    content: content.text,
    reasoningPieces: splitPieces(reasoning),
    contentPieces: splitPieces(content.text),
    finishReason: content.truncated ? 'length' : 'stop',
    promptTokens: prompt.total,
    imageTokens: prompt.image,
    cachedTokens: cachedPromptTokens(req.conversation.messages),
    reasoningTokens,
    completionTokens: reasoningTokens + countTokens(content.text),
  }
}

/** Reads an optional positive integer parameter, refusing anything else. */
export function positiveInt(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new Reject('invalid_parameter', `Parameter ${name} must be a positive integer.`)
  return value
}

/** Checks `max_tokens` against the model and returns it. */
export function maxTokensFor(model: EmulatorModel, value: unknown): number | undefined {
  const max = positiveInt(value, 'max_tokens')
  if (max !== undefined && model.maxOutputTokens !== undefined && max > model.maxOutputTokens) {
    throw new Reject('invalid_parameter', `Range of max_tokens should be [1, ${model.maxOutputTokens}]`)
  }
  return max
}

/** Refuses conversations longer than the model's context window. */
export function checkContext(model: EmulatorModel, completion: Completion): void {
  if (model.contextTokens !== undefined && completion.promptTokens > model.contextTokens) {
    throw new Reject('invalid_parameter', `Range of input length should be [1, ${model.contextTokens}]`)
  }
}

/** OpenAI-style content (a string, or an array of text / image_url parts) as raw parts. */
export function openAiParts(content: unknown, vision: boolean, onlyStrings: boolean): RawPart[] {
  if (content === null || content === undefined) return []
  if (typeof content === 'string') return [{ text: content }]
  if (!Array.isArray(content)) throw new Reject('invalid_parameter', 'input content must be a string or an array.')
  if (onlyStrings) throw new Reject('invalid_parameter', 'input content must be a string.')
  return content.map((item: unknown): RawPart => {
    const part = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>
    if (part.type === 'text' && typeof part.text === 'string') return { text: part.text }
    if (part.type === 'image_url') {
      if (!vision) throw new Reject('invalid_parameter', 'The model does not support image input.')
      const ref = part.image_url
      return { image: typeof ref === 'object' && ref !== null ? (ref as Record<string, unknown>).url : ref }
    }
    throw new Reject('invalid_parameter', 'Each content part must be {type:"text"} or {type:"image_url"}.')
  })
}

/** OpenAI-style messages (compat mode and Moonshot) as raw messages. */
export function openAiMessages(messages: unknown, vision: boolean, arraysAllowed: boolean): RawMessage[] {
  if (!Array.isArray(messages) || messages.length === 0) throw new Reject('invalid_parameter', 'messages must be a non-empty array.')
  return messages.map((m: unknown): RawMessage => {
    const msg = (typeof m === 'object' && m !== null ? m : {}) as Record<string, unknown>
    if (typeof msg.role !== 'string' || !['system', 'user', 'assistant', 'tool'].includes(msg.role)) {
      throw new Reject('invalid_parameter', 'Each message needs a role of system, user, assistant or tool.')
    }
    return { role: msg.role, parts: openAiParts(msg.content, vision, !arraysAllowed) }
  })
}

/** Whether `response_format` asks for a JSON object; such requests must mention "json". */
export function wantsJson(responseFormat: unknown, conversation: Conversation): boolean {
  const type = typeof responseFormat === 'object' && responseFormat !== null ? (responseFormat as Record<string, unknown>).type : undefined
  if (type !== 'json_object') return false
  if (!conversation.messages.some((m) => /json/i.test(m.text))) {
    throw new Reject('invalid_parameter', "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.")
  }
  return true
}

/** The model named by a request, served by this provider and of this kind, or a refusal. */
export function resolveModel(provider: EmulatorModel['provider'], id: unknown, kind: EmulatorModel['kind'], find: (p: EmulatorModel['provider'], id: unknown) => EmulatorModel | undefined): EmulatorModel {
  if (typeof id !== 'string' || id.length === 0) throw new Reject('invalid_parameter', 'Model not specified.')
  const model = find(provider, id)
  if (!model || model.kind !== kind) throw new Reject('model_not_found')
  return model
}
