import { z } from 'zod'
import { ModelInfoSchema } from './models'

/** Admin views of upstream channels, their keys and the model catalog (`/api/admin/providers`, `/api/admin/models`). */

export const ChannelTypeSchema = z.enum(['dashscope', 'moonshot', 'openai-compatible'])
export type ChannelType = z.infer<typeof ChannelTypeSchema>

/**
 * A provider key as typed by an admin. Printable ASCII only: it ends up in an HTTP header, so
 * spaces, CR/LF and control characters are refused rather than trimmed into something else.
 */
export const ProviderSecretSchema = z
  .string()
  .trim()
  .min(8, 'at least 8 characters')
  .max(512)
  .regex(/^[\x21-\x7e]+$/, 'printable characters only, no spaces')

/** A key is never shown again after it is saved: only this. */
export const ProviderKeyViewSchema = z.object({
  id: z.string(),
  /** `sk-…a1b2` */
  hint: z.string(),
  status: z.enum(['active', 'disabled']),
  disabledReason: z.string().nullable(),
  lastError: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
  nextProbeAt: z.string().nullable(),
  createdAt: z.string(),
})
export type ProviderKeyView = z.infer<typeof ProviderKeyViewSchema>

const ModelIdSchema = z.string().trim().min(1).max(100).regex(/^[A-Za-z0-9._:/-]+$/, 'letters, digits and . _ : / - only')
const ChannelOptionsSchema = z
  .record(z.string().max(64), z.union([z.string().max(256), z.number(), z.boolean(), z.null()]))
  .refine((o) => Object.keys(o).length <= 32, 'at most 32 options')

export const ChannelSchema = z.object({
  id: z.string(),
  type: ChannelTypeSchema,
  name: z.string(),
  baseUrl: z.string(),
  models: z.array(z.string()),
  weight: z.number().int(),
  priority: z.number().int(),
  enabled: z.boolean(),
  emulated: z.boolean(),
  /** `env` and `emulator` channels are managed by the server; their URL cannot be edited. */
  source: z.enum(['env', 'admin', 'emulator']),
  options: z.record(z.string(), z.unknown()),
  lastError: z.string().nullable(),
  /** This instance's circuit breaker for the channel. */
  circuit: z.enum(['closed', 'open', 'half_open']),
  keys: z.array(ProviderKeyViewSchema),
  createdAt: z.string(),
  updatedAt: z.string(),
})
export type Channel = z.infer<typeof ChannelSchema>

export const CreateChannelBodySchema = z.strictObject({
  type: ChannelTypeSchema,
  name: z.string().trim().min(1).max(128),
  /** DashScope: the host root (`https://dashscope.aliyuncs.com`); others: the API base including `/v1`. */
  baseUrl: z.string().trim().min(1).max(512),
  models: z.array(ModelIdSchema).max(500),
  weight: z.number().int().min(0).max(1000).default(1),
  /** Higher first. */
  priority: z.number().int().min(-1000).max(1000).default(0),
  enabled: z.boolean().default(true),
  options: ChannelOptionsSchema.optional(),
  /** Keys to add at once (write-only). */
  keys: z.array(ProviderSecretSchema).max(50).optional(),
})
export type CreateChannelBody = z.infer<typeof CreateChannelBodySchema>

export const UpdateChannelBodySchema = z.strictObject({
  name: z.string().trim().min(1).max(128).optional(),
  baseUrl: z.string().trim().min(1).max(512).optional(),
  models: z.array(ModelIdSchema).max(500).optional(),
  weight: z.number().int().min(0).max(1000).optional(),
  priority: z.number().int().min(-1000).max(1000).optional(),
  enabled: z.boolean().optional(),
  options: ChannelOptionsSchema.optional(),
})
export type UpdateChannelBody = z.infer<typeof UpdateChannelBodySchema>

export const AddProviderKeyBodySchema = z.strictObject({ secret: ProviderSecretSchema })
export const UpdateProviderKeyBodySchema = z.strictObject({ status: z.enum(['active', 'disabled']) })

export const ProviderKeyTestResultSchema = z.object({
  ok: z.boolean(),
  latencyMs: z.number().int(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  key: ProviderKeyViewSchema,
})
export type ProviderKeyTestResult = z.infer<typeof ProviderKeyTestResultSchema>

export const AdminModelSchema = ModelInfoSchema.extend({
  upstreamModel: z.string(),
  maxOutputTokens: z.number().int().nullable(),
  /** Where the price came from and when, e.g. `[U] protocols/README.md §9: …; 2026-11`. */
  priceSource: z.string().nullable(),
  enabled: z.boolean(),
  sortOrder: z.number().int(),
  /** Whether an enabled channel lists this model (otherwise users don't see it). */
  served: z.boolean(),
  updatedAt: z.string(),
})
export type AdminModel = z.infer<typeof AdminModelSchema>

const PriceSchema = z.number().int().min(0).max(1_000_000_000_000).nullable()

export const UpdateModelBodySchema = z.strictObject({
  enabled: z.boolean().optional(),
  displayName: z.string().trim().min(1).max(128).optional(),
  /** micro-yuan per million tokens / per image; null clears a price. */
  prices: z
    .strictObject({ inputPerMTok: PriceSchema.optional(), outputPerMTok: PriceSchema.optional(), perImage: PriceSchema.optional() })
    .optional(),
  priceSource: z.string().trim().max(255).optional(),
  contextWindow: z.number().int().min(0).max(100_000_000).optional(),
  maxOutputTokens: z.number().int().min(1).max(10_000_000).nullable().optional(),
  sortOrder: z.number().int().min(-100_000).max(100_000).optional(),
})
export type UpdateModelBody = z.infer<typeof UpdateModelBodySchema>
