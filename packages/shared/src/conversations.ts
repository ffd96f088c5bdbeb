import { z } from 'zod'

/** A conversation as the API shows it (API.md "Conversations"). */
export const ConversationSchema = z.object({
  id: z.string(),
  title: z.string(),
  model: z.string().nullable(),
  systemPrompt: z.string().nullable(),
  pinned: z.boolean(),
  archived: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
  lastMessagePreview: z.string().nullable(),
})
export type Conversation = z.infer<typeof ConversationSchema>

/** Title a conversation gets until the first exchange names it. */
export const DEFAULT_CONVERSATION_TITLE = 'New chat'

export const MessageStatusSchema = z.enum(['complete', 'streaming', 'interrupted', 'error'])
export type MessageStatus = z.infer<typeof MessageStatusSchema>

/** Non-text parts of a message: images attached for vision models. */
export const MessagePartSchema = z.object({
  type: z.literal('image'),
  fileId: z.string(),
  url: z.string(),
  mime: z.string(),
  name: z.string().optional(),
})
export type MessagePart = z.infer<typeof MessagePartSchema>

export const MessageSchema = z.object({
  id: z.string(),
  conversationId: z.string(),
  role: z.enum(['system', 'user', 'assistant']),
  content: z.string(),
  parts: z.array(MessagePartSchema).optional(),
  /** Thinking text of reasoning models, shown collapsed. */
  reasoning: z.string().nullable().optional(),
  model: z.string().nullable(),
  status: MessageStatusSchema,
  parentId: z.string().nullable(),
  usage: z.object({ promptTokens: z.number().int(), completionTokens: z.number().int(), cost: z.number().int() }).optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  /** Branch navigation: ids of this message's siblings (same parent, same role), oldest first, itself included. */
  siblingIds: z.array(z.string()).optional(),
  createdAt: z.string(),
})
export type Message = z.infer<typeof MessageSchema>

export const CreateConversationBodySchema = z
  .object({
    title: z.string().trim().min(1).max(200).optional(),
    model: z.string().min(1).max(100).optional(),
    systemPrompt: z.string().max(20_000).optional(),
  })
  .strict()

export const UpdateConversationBodySchema = z
  .object({
    title: z.string().trim().min(1).max(200).optional(),
    pinned: z.boolean().optional(),
    archived: z.boolean().optional(),
    model: z.string().min(1).max(100).nullable().optional(),
    systemPrompt: z.string().max(20_000).nullable().optional(),
  })
  .strict()

/** Body of a chat turn (POST /api/conversations/:id/messages). */
export const SendMessageBodySchema = z
  .object({
    content: z.string().max(100_000),
    model: z.string().min(1).max(100).optional(),
    attachments: z.array(z.string().min(1).max(64)).max(8).optional(),
    /** The message this one answers/follows; another user message's parent makes an edit branch. */
    parentId: z.string().min(1).max(64).nullable().optional(),
    /** Turns on reasoning for models that can think. */
    thinking: z.boolean().optional(),
  })
  .strict()
export type SendMessageBody = z.infer<typeof SendMessageBodySchema>

export const RegenerateBodySchema = z.object({ model: z.string().min(1).max(100).optional(), thinking: z.boolean().optional() }).strict()

export const FileInfoSchema = z.object({ id: z.string(), name: z.string(), mime: z.string(), size: z.number().int(), url: z.string() })
export type FileInfo = z.infer<typeof FileInfoSchema>
