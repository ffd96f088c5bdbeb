import type { Message } from './conversations'

/** Token counts and cost (micro-yuan) of one turn. */
export interface TurnUsage {
  promptTokens: number
  completionTokens: number
  cost: number
}

/**
 * The events of a chat turn streamed to the browser (`POST /api/conversations/:id/messages`
 * with `Accept: text/event-stream`). `message` comes first (the stored user message, and then the
 * assistant message being written); a stream always ends with exactly one `done` or `error`.
 * `ping` events are heartbeats that keep idle proxies open; clients ignore them.
 */
export type ChatStreamEvent =
  | { event: 'message'; data: { message: Message } }
  | { event: 'delta'; data: { text?: string; reasoning?: string } }
  | { event: 'done'; data: { message: Message; usage: TurnUsage } }
  | { event: 'error'; data: { code: string; message: string; partialMessage?: Message } }
  | { event: 'ping'; data: Record<string, never> }

export type ChatStreamEventName = ChatStreamEvent['event']
