import type { FileInfo, Message, SendMessageBody, TurnUsage } from '@qiao/shared'
import { useCallback } from 'react'
import { create } from 'zustand'
import { ApiError } from '../../api/client'
import { authorizedFetch } from './chat-api'
import { readSse, toChatEvent } from './sse'

export type TurnPhase = 'sending' | 'streaming' | 'done' | 'error' | 'stopped'

/** A chat turn in flight (or just finished, until the stored messages replace it on screen). */
export interface LiveTurn {
  conversationId: string
  kind: 'send' | 'regenerate'
  /** The stored message the new ones hang under: the new user message's parent, or, when regenerating, the user message answered. */
  anchorId: string | null
  /** The user's message: a local stand-in until the server's copy arrives. Absent when regenerating. */
  user?: Message
  /** The assistant message being written; its content and reasoning grow with each delta. */
  assistant?: Message
  phase: TurnPhase
  error?: { code: string; message: string }
  usage?: TurnUsage
  /** What the user typed and attached, so a turn refused before it started loses nothing. */
  draft?: { content: string; attachments: FileInfo[] }
}

interface LiveTurnsState {
  turns: Record<string, LiveTurn | undefined>
}

/** Kept outside the page so a turn keeps streaming (and stays visible) across navigation. */
const useLiveTurns = create<LiveTurnsState>(() => ({ turns: {} }))
const controllers = new Map<string, AbortController>()

function patchTurn(conversationId: string, change: Partial<LiveTurn> | ((turn: LiveTurn) => Partial<LiveTurn>)): void {
  useLiveTurns.setState((state) => {
    const turn = state.turns[conversationId]
    if (!turn) return state
    const next = typeof change === 'function' ? change(turn) : change
    return { turns: { ...state.turns, [conversationId]: { ...turn, ...next } } }
  })
}

export const isTerminal = (phase: TurnPhase) => phase === 'done' || phase === 'error' || phase === 'stopped'

export interface SendInput {
  conversationId: string
  body: SendMessageBody
  /** Where the new user message attaches (its parentId); null for the first message. */
  anchorId: string | null
  attachments: FileInfo[]
}

export interface RegenerateInput {
  conversationId: string
  /** The assistant message to answer again. */
  messageId: string
  /** The user message it answers. */
  anchorId: string
  body: { model?: string; thinking?: boolean }
}

/** A stand-in for the user's message while the server has not echoed it yet. */
function pendingUserMessage(input: SendInput): Message {
  return {
    id: `pending-${Date.now()}`,
    conversationId: input.conversationId,
    role: 'user',
    content: input.body.content,
    parts: input.attachments.map((f) => ({
      type: 'image' as const,
      fileId: f.id,
      url: f.url,
      mime: f.mime,
      name: f.name,
    })),
    model: input.body.model ?? null,
    status: 'complete',
    parentId: input.anchorId,
    createdAt: new Date().toISOString(),
  }
}

/**
 * Runs one streamed turn: POST with `Accept: text/event-stream`, then apply the events as they
 * arrive. Aborting the fetch closes the connection, which is how the server learns to stop (it
 * keeps the partial answer as `interrupted`).
 */
async function runTurn(conversationId: string, path: string, body: unknown): Promise<void> {
  controllers.get(conversationId)?.abort()
  const controller = new AbortController()
  controllers.set(conversationId, controller)
  try {
    const response = await authorizedFetch(path, () => ({
      method: 'POST',
      headers: { accept: 'text/event-stream', 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: controller.signal,
    }))
    if (!response.body) throw new ApiError('UNKNOWN', 'The answer had no body', response.status)
    patchTurn(conversationId, { phase: 'streaming' })
    let ended = false
    for await (const raw of readSse(response.body)) {
      const event = toChatEvent(raw)
      if (!event) continue
      switch (event.event) {
        case 'message': {
          const message = event.data.message
          patchTurn(conversationId, message.role === 'user' ? { user: message } : { assistant: message })
          break
        }
        case 'delta': {
          const { text, reasoning } = event.data
          patchTurn(conversationId, (turn) =>
            turn.assistant
              ? {
                  assistant: {
                    ...turn.assistant,
                    content: turn.assistant.content + (text ?? ''),
                    reasoning: reasoning ? (turn.assistant.reasoning ?? '') + reasoning : turn.assistant.reasoning,
                  },
                }
              : {},
          )
          break
        }
        case 'done':
          ended = true
          patchTurn(conversationId, { phase: 'done', assistant: event.data.message, usage: event.data.usage })
          break
        case 'error':
          ended = true
          patchTurn(conversationId, (turn) => ({
            phase: 'error',
            error: { code: event.data.code, message: event.data.message },
            assistant:
              event.data.partialMessage ?? (turn.assistant ? { ...turn.assistant, status: 'error' } : undefined),
          }))
          break
      }
    }
    // The connection closed without a final event: the server (or a proxy) went away mid-answer.
    if (!ended) {
      patchTurn(conversationId, (turn) => ({
        phase: 'error',
        error: { code: 'NETWORK', message: 'The stream ended early' },
        assistant: turn.assistant ? { ...turn.assistant, status: 'interrupted' } : undefined,
      }))
    }
  } catch (err) {
    if (controller.signal.aborted) {
      patchTurn(conversationId, (turn) => ({
        phase: 'stopped',
        assistant: turn.assistant ? { ...turn.assistant, status: 'interrupted' } : undefined,
      }))
    } else {
      const error =
        err instanceof ApiError
          ? { code: err.code, message: err.message }
          : { code: 'NETWORK', message: 'Network request failed' }
      patchTurn(conversationId, (turn) => ({
        phase: 'error',
        error,
        assistant: turn.assistant ? { ...turn.assistant, status: 'error', error } : undefined,
      }))
    }
  } finally {
    if (controllers.get(conversationId) === controller) controllers.delete(conversationId)
  }
}

export function sendMessage(input: SendInput): Promise<void> {
  useLiveTurns.setState((state) => ({
    turns: {
      ...state.turns,
      [input.conversationId]: {
        conversationId: input.conversationId,
        kind: 'send',
        anchorId: input.anchorId,
        user: pendingUserMessage(input),
        phase: 'sending',
        draft: { content: input.body.content, attachments: input.attachments },
      },
    },
  }))
  return runTurn(
    input.conversationId,
    `/api/conversations/${encodeURIComponent(input.conversationId)}/messages`,
    input.body,
  )
}

export function regenerateMessage(input: RegenerateInput): Promise<void> {
  useLiveTurns.setState((state) => ({
    turns: {
      ...state.turns,
      [input.conversationId]: {
        conversationId: input.conversationId,
        kind: 'regenerate',
        anchorId: input.anchorId,
        phase: 'sending',
      },
    },
  }))
  const id = encodeURIComponent(input.conversationId)
  return runTurn(
    input.conversationId,
    `/api/conversations/${id}/messages/${encodeURIComponent(input.messageId)}/regenerate`,
    input.body,
  )
}

export function stopTurn(conversationId: string): void {
  controllers.get(conversationId)?.abort()
}

/** Forgets a finished turn once the stored messages show the same thing. */
export function clearTurn(conversationId: string): void {
  if (controllers.has(conversationId)) return
  useLiveTurns.setState((state) => ({ turns: { ...state.turns, [conversationId]: undefined } }))
}

/** The live turn of one conversation and the actions on it; one SSE pipeline for the whole app. */
export function useChatStream(conversationId: string | undefined) {
  const turn = useLiveTurns((s) => (conversationId ? s.turns[conversationId] : undefined))
  const stop = useCallback(() => {
    if (conversationId) stopTurn(conversationId)
  }, [conversationId])
  return { turn, busy: !!turn && !isTerminal(turn.phase), send: sendMessage, regenerate: regenerateMessage, stop }
}
