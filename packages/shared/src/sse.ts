/**
 * The events of a chat turn streamed to the browser (`POST /api/conversations/:id/messages`
 * with `Accept: text/event-stream`). A stream always ends with exactly one `done` or `error`.
 */
export type ChatStreamEvent =
  | { event: 'message'; data: { message: unknown } }
  | { event: 'delta'; data: { text?: string; reasoning?: string } }
  | { event: 'done'; data: { message: unknown; usage: { promptTokens: number; completionTokens: number; cost: number } } }
  | { event: 'error'; data: { code: string; message: string; partialMessage?: unknown } }

export type ChatStreamEventName = ChatStreamEvent['event']
