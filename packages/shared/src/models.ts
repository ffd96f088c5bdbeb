import { z } from 'zod'

export const ModelKindSchema = z.enum(['chat', 'vision', 'image', 'embedding', 'speech'])
export type ModelKind = z.infer<typeof ModelKindSchema>

export const CapabilitySchema = z.enum(['chat', 'vision', 'image', 'embedding', 'speech', 'thinking'])
export type Capability = z.infer<typeof CapabilitySchema>

/** Prices in micro-yuan: per million tokens, or per image. */
export const ModelPricesSchema = z.object({
  inputPerMTok: z.number().int().nonnegative().optional(),
  outputPerMTok: z.number().int().nonnegative().optional(),
  perImage: z.number().int().nonnegative().optional(),
})
export type ModelPrices = z.infer<typeof ModelPricesSchema>

/**
 * What GET /api/models appends to an emulated model's `displayName`, so it never poses as the real
 * one to any client. Admin endpoints send the bare name.
 */
export const EMULATED_SUFFIX = '（模拟）'

export const ModelInfoSchema = z.object({
  id: z.string(),
  provider: z.string(),
  kind: ModelKindSchema,
  displayName: z.string(),
  capabilities: z.array(CapabilitySchema),
  contextWindow: z.number().int(),
  prices: ModelPricesSchema,
  emulated: z.boolean(),
})
export type ModelInfo = z.infer<typeof ModelInfoSchema>

/** Output tokens assumed when a model states no maximum. */
export const DEFAULT_MAX_OUTPUT_TOKENS = 4_096

/**
 * The most output tokens one turn may produce: the model's maximum, but never more than half its
 * context window. The chat turn sends it upstream as `max_tokens`, the context trimmer keeps this
 * much room, and billing reserves for it — so a turn can never cost more than its hold.
 */
export function outputTokenLimit(model: { contextWindow: number; maxOutputTokens: number | null }): number {
  return Math.min(model.maxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS, Math.floor(model.contextWindow / 2))
}
