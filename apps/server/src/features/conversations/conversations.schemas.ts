import { MessageSchema, PageQuerySchema, pageSchema } from '@qiao/shared'
import { z } from 'zod'

const MessageIdSchema = z.string().min(1).max(64)

/** GET /api/conversations: `q` searches titles and message text; archived ones are listed apart. */
export const ConversationListQuerySchema = PageQuerySchema.extend({
  q: z.string().trim().max(200).optional(),
  archived: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),
})
export type ConversationListQuery = z.infer<typeof ConversationListQuerySchema>

/** GET /api/conversations/:id/messages: the newest branch, or the one through `leafId`. */
export const MessageListQuerySchema = PageQuerySchema.extend({ leafId: MessageIdSchema.optional() })
export type MessageListQuery = z.infer<typeof MessageListQuerySchema>

/** One page of a branch, plus the leaf the branch ends at (send it back to stay on this branch). */
export const MessagePageSchema = pageSchema(MessageSchema).extend({ leafId: z.string().nullable() })
export type MessagePage = z.infer<typeof MessagePageSchema>

export const ExportQuerySchema = z.object({
  format: z.enum(['markdown', 'json']).default('markdown'),
  leafId: MessageIdSchema.optional(),
})
export type ExportQuery = z.infer<typeof ExportQuerySchema>
