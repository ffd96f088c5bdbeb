import { z } from 'zod'

/**
 * Personal API keys (`/api/keys`) for the OpenAI-compatible gateway (`/v1`). The secret
 * `sk-qiao-…` is shown once, at creation; afterwards only its `prefix` identifies it.
 */

export const API_KEY_SECRET_PREFIX = 'sk-qiao-'

/** Most keys one account may hold active at once. */
export const MAX_ACTIVE_API_KEYS = 50

export const ApiKeyStatusSchema = z.enum(['active', 'revoked', 'expired'])
export type ApiKeyStatus = z.infer<typeof ApiKeyStatusSchema>

export const ApiKeySchema = z.object({
  id: z.string(),
  name: z.string(),
  /** `sk-qiao-` and the first 8 characters of the secret: enough to recognise, useless to call with. */
  prefix: z.string(),
  status: ApiKeyStatusSchema,
  /** Model ids this key may call; null = every model the owner may use. */
  allowedModels: z.array(z.string()).nullable(),
  /** Most the key may spend per calendar month (UTC), micro-yuan; null = no limit beyond the balance. */
  monthlyLimit: z.number().int().nullable(),
  /** What the key has spent this calendar month (UTC), micro-yuan. */
  monthSpent: z.number().int(),
  expiresAt: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
})
export type ApiKey = z.infer<typeof ApiKeySchema>

export const CreateApiKeyBodySchema = z
  .object({
    name: z.string().trim().min(1).max(64),
    /** ISO-8601 timestamp in the future; absent or null = never expires. */
    expiresAt: z.iso.datetime({ offset: true }).nullish(),
    /** Micro-yuan per calendar month; absent or null = no limit. */
    monthlyLimit: z.number().int().min(1).max(1_000_000_000_000).nullish(),
    /** Absent or null = every model the owner may use. */
    allowedModels: z.array(z.string().min(1).max(100)).min(1).max(100).nullish(),
  })
  .strict()
export type CreateApiKeyBody = z.infer<typeof CreateApiKeyBodySchema>

export const CreatedApiKeySchema = z.object({
  key: ApiKeySchema,
  /** The whole secret. Shown this once; the server keeps only its SHA-256. */
  secret: z.string(),
})
export type CreatedApiKey = z.infer<typeof CreatedApiKeySchema>

export const ApiKeyListSchema = z.object({ items: z.array(ApiKeySchema) })
export type ApiKeyList = z.infer<typeof ApiKeyListSchema>
