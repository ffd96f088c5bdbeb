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
