import type { Usage } from '../../providers/types'
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
  const deliveredOut = estimateTokens(r.text) + estimateTokens(r.reasoning)
  const trusted = r.usage && !(r.usage.outputTokens === 0 && deliveredOut > 0) ? r.usage : undefined
  const started = r.upstreamStarted || produced
  const promptTokens = trusted ? trusted.inputTokens : started ? r.promptEstimate : 0
  const completionTokens = trusted ? trusted.outputTokens : deliveredOut
  return {
    promptTokens,
    completionTokens,
    cachedTokens: trusted?.cachedTokens ?? 0,
    reasoningTokens: trusted ? (trusted.reasoningTokens ?? 0) : estimateTokens(r.reasoning),
    usageEstimated: !trusted && started,
    cost: turnCost(r.prices, promptTokens, completionTokens),
  }
}
