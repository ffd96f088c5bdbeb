import { outputTokenLimit } from '@qiao/shared'
import type { Transaction } from 'kysely'
import type { Database } from '../../db/schema'
import type { BillingService } from './billing.service'
import type { CreditLeases } from './leases'

/**
 * The chat turn's billing: plugs into the chat service's `beforeUpstream` / `settle` seams
 * (features/chat/chat.service.ts `ChatHooks`). Typed structurally so billing does not depend on
 * chat. Wire with `createChatService(deps, ports, { hooks: createChatBillingHooks(billing) })`.
 *
 * - beforeUpstream (inside the transaction that stores the user message): hold the worst case of
 *   this turn — the prompt estimate plus the most output tokens the turn may produce, at the
 *   model's prices. Not enough → 402 INSUFFICIENT_BALANCE, the messages roll back, and no
 *   upstream call is made.
 * - settle (inside the transaction that finalises the message and writes `api_calls`): charge
 *   the real cost and return the rest of the hold; cost 0 (failed before any token) returns it all.
 */


export interface ChatTurnModel {
  contextWindow: number
  maxOutputTokens: number | null
  prices: { inputPerMTok?: number; outputPerMTok?: number }
}

/**
 * The most output tokens a turn is reserved for. The chat turn should send this as the upstream
 * `maxTokens`, so the real cost can never exceed the hold.
 */
export function reservedOutputTokens(model: ChatTurnModel): number {
  return outputTokenLimit(model)
}

/** The hold for one turn, in micro-yuan: ceil((prompt × input + max output × output) / 1e6). */
export function estimateTurnCost(turn: { promptEstimate: number; model: ChatTurnModel }): number {
  const prompt = Math.max(0, Math.ceil(turn.promptEstimate))
  const numerator =
    prompt * (turn.model.prices.inputPerMTok ?? 0) + reservedOutputTokens(turn.model) * (turn.model.prices.outputPerMTok ?? 0)
  return Math.ceil(numerator / 1e6)
}

export function createChatBillingHooks(billing: BillingService, leases?: Pick<CreditLeases, 'yieldFor'>) {
  return {
    /** Before the turn's transaction: this process's idle /v1 lease for the user goes back to the balance. */
    async beforeTransaction(userId: string): Promise<void> {
      await leases?.yieldFor(userId)
    },
    async beforeUpstream(
      trx: Transaction<Database>,
      turn: { userId: string; requestId: string; promptEstimate: number; model: ChatTurnModel },
    ): Promise<void> {
      await billing.reserveIn(trx, { userId: turn.userId, requestId: turn.requestId, amount: estimateTurnCost(turn) })
    },
    async settle(trx: Transaction<Database>, s: { userId: string; requestId: string; cost: number }): Promise<void> {
      await billing.settle(trx, { userId: s.userId, requestId: s.requestId, cost: s.cost })
    },
  }
}
