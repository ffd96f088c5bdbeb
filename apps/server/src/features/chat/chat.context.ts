import { MessagePartSchema, outputTokenLimit, type MessagePart } from '@qiao/shared'
import { z } from 'zod'
import type { ChatMessage, ContentPart } from '../../providers/types'
import type { MessageRow } from './chat.repo'
import { estimatePromptTokens, type EstimatedMessage } from './tokens'

/**
 * What the model sees: the system prompt, then the branch from its root to the user message being
 * answered, oldest turns dropped until the estimate fits the window minus the room kept for the
 * answer. The system prompt and the newest user message are always kept.
 */

const PartsSchema = z.array(MessagePartSchema)

export function parseParts(json: string | null): MessagePart[] {
  if (!json) return []
  try {
    const parsed = PartsSchema.safeParse(JSON.parse(json))
    return parsed.success ? parsed.data : []
  } catch {
    return []
  }
}

export interface ContextInput {
  systemPrompt: string | null
  /** Root → the user message being answered, inclusive. */
  path: MessageRow[]
  /** Whether image parts are sent (vision models); otherwise only their text goes. */
  vision: boolean
  contextWindow: number
  maxOutputTokens: number | null
  /** Reads an attached image; a file that is gone is left out rather than failing the turn. */
  readImage(fileId: string): Promise<{ mime: string; bytes: Uint8Array }>
}

export interface BuiltContext {
  messages: ChatMessage[]
  /** Our estimate of the prompt, used when the upstream reports no usage. */
  promptEstimate: number
  /** Earlier messages left out to fit the window. */
  dropped: number
}

/** Which stored messages are worth sending: failed answers with no text say nothing. */
function usable(row: MessageRow): boolean {
  if (row.role !== 'assistant') return true
  if (row.status === 'streaming') return false
  return row.content.length > 0
}

export function tokenBudget(contextWindow: number, maxOutputTokens: number | null): number {
  return contextWindow - outputTokenLimit({ contextWindow, maxOutputTokens })
}

export async function buildContext(input: ContextInput): Promise<BuiltContext> {
  const rows = input.path.filter(usable)
  const system = input.systemPrompt?.trim() ? [{ role: 'system' as const, text: input.systemPrompt }] : []
  const estimateOf = (r: MessageRow): EstimatedMessage => ({
    text: r.content,
    images: input.vision && r.role === 'user' ? parseParts(r.parts).length : 0,
  })
  const budget = tokenBudget(input.contextWindow, input.maxOutputTokens)
  const total = () => estimatePromptTokens([...system, ...rows.map(estimateOf)])

  let dropped = 0
  // Drop whole turns from the front; the history must still start with a user message.
  while (rows.length > 1 && total() > budget) {
    rows.shift()
    dropped++
    while (rows.length > 1 && rows[0]!.role !== 'user') {
      rows.shift()
      dropped++
    }
  }

  const messages: ChatMessage[] = system.map((s) => ({ role: 'system', content: s.text }))
  for (const row of rows) {
    const parts = input.vision && row.role === 'user' ? parseParts(row.parts) : []
    if (parts.length === 0) {
      messages.push({ role: row.role, content: row.content })
      continue
    }
    const content: ContentPart[] = []
    for (const part of parts) {
      try {
        const file = await input.readImage(part.fileId)
        content.push({ type: 'image_url', url: `data:${file.mime};base64,${Buffer.from(file.bytes).toString('base64')}` })
      } catch {
        // Deleted since it was attached: the turn goes on without it.
      }
    }
    if (row.content) content.push({ type: 'text', text: row.content })
    messages.push({ role: row.role, content: content.length ? content : row.content })
  }
  return { messages, promptEstimate: total(), dropped }
}
