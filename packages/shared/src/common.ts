import { z } from 'zod'

/** `?limit=&cursor=` on every list; limit defaults to 20 and is capped at 100. */
export const PageQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
})
export type PageQuery = z.infer<typeof PageQuerySchema>

/** Every list answers `{ items, nextCursor }`. */
export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() })
}

export const IdParamsSchema = z.object({ id: z.string().min(1).max(64) })
