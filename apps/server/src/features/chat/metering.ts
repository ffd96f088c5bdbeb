import type { FastifyBaseLogger } from 'fastify'
import type { AppError } from '../../errors'
import { toAppError, type CallMeta, type ChatHandle } from '../../providers/registry'
import { ProviderError, type ChatEvent, type FinishReason, type Usage } from '../../providers/types'
import { estimateTokens, turnCost } from './tokens'

/**
 * What one upstream call is billed for, shared by the web chat turn and the /v1 gateway.
 * Upstream usage when it sent some that accounts for the output; otherwise an estimate, marked as
 * such, and never 0 once anything was produced (SECURITY H5, invariant 3).
 */
export interface MeteredUsage {
  promptTokens: number
  completionTokens: number
  cachedTokens: number
  reasoningTokens: number
  usageEstimated: boolean
  cost: number
}

export function meterUsage(r: {
  /** Usage the upstream reported, if any. */
  usage: Usage | undefined
  /** Everything delivered as output (answer text, and tool-call arguments). */
  text: string
  reasoning: string
  /** True once a channel answered (the call reached the model), even if nothing was produced. */
  upstreamStarted: boolean
  promptEstimate: number
  prices: { inputPerMTok?: number; outputPerMTok?: number }
}): MeteredUsage {
  const produced = r.text.length > 0 || r.reasoning.length > 0
  // Estimated only when needed: usage that accounts for the output makes the estimate moot.
  let delivered: number | undefined
  const deliveredOut = (): number => (delivered ??= estimateTokens(r.text) + estimateTokens(r.reasoning))
  const trusted = r.usage && !(r.usage.outputTokens === 0 && deliveredOut() > 0) ? r.usage : undefined
  const started = r.upstreamStarted || produced
  const promptTokens = trusted ? trusted.inputTokens : started ? r.promptEstimate : 0
  const completionTokens = trusted ? trusted.outputTokens : deliveredOut()
  return {
    promptTokens,
    completionTokens,
    cachedTokens: trusted?.cachedTokens ?? 0,
    reasoningTokens: trusted ? (trusted.reasoningTokens ?? 0) : estimateTokens(r.reasoning),
    usageEstimated: !trusted && started,
    cost: turnCost(r.prices, promptTokens, completionTokens),
  }
}

/** What a registry chat call produced, accumulated while it streams (read live by checkpoints). */
export interface RelayState {
  text: string
  reasoning: string
  /** Tool-call deltas in arrival order, and their text (names + arguments) for token estimates. */
  toolEvents: Array<Extract<ChatEvent, { type: 'tool_call' }>>
  toolText: string
  usage: Usage | undefined
  finishReason: FinishReason
  upstreamRequestId: string | undefined
  ttftMs: number | null
  /** Which channel served the call; set once the upstream produced its first event. */
  meta: CallMeta | undefined
  /** The mapped failure; never set when the caller aborted (that is an interruption, not an error). */
  failure: AppError | undefined
}

export function newRelayState(): RelayState {
  return {
    text: '',
    reasoning: '',
    toolEvents: [],
    toolText: '',
    usage: undefined,
    finishReason: 'stop',
    upstreamRequestId: undefined,
    ttftMs: null,
    meta: undefined,
    failure: undefined,
  }
}

/**
 * Drains one registry chat call into `state` — the one loop the web turn and /v1 share. Content
 * events (text, reasoning, tool calls) go to `forward` as they arrive (awaited: back-pressure);
 * bookkeeping events only update the state. Stops when `signal` aborts. A failure is mapped to an
 * AppError in `state.failure` rather than thrown, so the caller always gets to finalise.
 */
export async function relayChat(
  call: ChatHandle,
  state: RelayState,
  o: { signal: AbortSignal; startedAt: number; forward(ev: Extract<ChatEvent, { type: 'text' | 'reasoning' | 'tool_call' }>): Promise<unknown>; logger: FastifyBaseLogger },
): Promise<void> {
  // Settles by the time `events` yields its first event or throws.
  void call.meta.then((m) => (state.meta = m), () => undefined)
  try {
    for await (const ev of call.events) {
      switch (ev.type) {
        case 'start':
          state.upstreamRequestId = ev.upstreamRequestId ?? state.upstreamRequestId
          break
        case 'text':
          state.ttftMs ??= Date.now() - o.startedAt
          state.text += ev.delta
          await o.forward(ev)
          break
        case 'reasoning':
          state.ttftMs ??= Date.now() - o.startedAt
          state.reasoning += ev.delta
          await o.forward(ev)
          break
        case 'tool_call':
          state.ttftMs ??= Date.now() - o.startedAt
          state.toolText += (ev.name ?? '') + ev.argumentsDelta
          state.toolEvents.push(ev)
          await o.forward(ev)
          break
        case 'usage':
          state.usage = ev
          break
        case 'done':
          state.finishReason = ev.finishReason
          break
      }
      if (o.signal.aborted) break
    }
  } catch (err) {
    if (o.signal.aborted) return
    const failure = toAppError(err)
    state.failure = failure
    if (failure.cause instanceof ProviderError) state.upstreamRequestId = failure.cause.info.upstreamRequestId ?? state.upstreamRequestId
    if (failure.code === 'INTERNAL') o.logger.error({ err }, 'upstream relay failed')
  }
}
