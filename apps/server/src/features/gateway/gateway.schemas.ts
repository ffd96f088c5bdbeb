import { z } from 'zod'

/**
 * The OpenAI wire format the gateway accepts and answers. Request objects are loose: the SDKs
 * send fields we do not use (`store`, `metadata`, `parallel_tool_calls`, …) and must not be
 * refused for them. They are ignored — except the ones that would choose an upstream host, which
 * are refused outright (SECURITY F2): no request ever picks where its call goes.
 */

/** Body fields that would point the call at another host; answered 400, never used. */
export const FORBIDDEN_BODY_FIELDS = ['api_base', 'base_url', 'baseURL', 'baseUrl', 'api_host'] as const

function refuseUpstreamOverrides(body: Record<string, unknown>, ctx: z.RefinementCtx): void {
  for (const field of FORBIDDEN_BODY_FIELDS) {
    if (field in body) ctx.addIssue({ code: 'custom', path: [field], message: 'choosing the upstream is not allowed' })
  }
}

const TextPartSchema = z.object({ type: z.literal('text'), text: z.string() }).loose()
const ImagePartSchema = z
  .object({
    type: z.literal('image_url'),
    image_url: z.object({ url: z.string().min(1).max(20_000_000), detail: z.string().max(16).optional() }).loose(),
  })
  .loose()
const ContentPartSchema = z.discriminatedUnion('type', [TextPartSchema, ImagePartSchema])

const ToolCallSchema = z
  .object({
    id: z.string().max(256),
    type: z.literal('function'),
    function: z.object({ name: z.string().max(256), arguments: z.string() }).loose(),
  })
  .loose()

export const ChatMessageSchema = z
  .object({
    role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
    content: z.union([z.string(), z.array(ContentPartSchema).max(200)]).nullish(),
    name: z.string().max(64).optional(),
    tool_calls: z.array(ToolCallSchema).max(128).optional(),
    tool_call_id: z.string().max(256).optional(),
    /** Thinking models that need their earlier reasoning back (Kimi). */
    reasoning_content: z.string().nullish(),
  })
  .loose()
export type OpenAiChatMessage = z.infer<typeof ChatMessageSchema>

export const ChatCompletionBodySchema = z
  .object({
    model: z.string().min(1).max(100),
    messages: z.array(ChatMessageSchema).min(1).max(2_000),
    stream: z.boolean().nullish(),
    stream_options: z.object({ include_usage: z.boolean().nullish() }).loose().nullish(),
    temperature: z.number().min(0).max(2).nullish(),
    top_p: z.number().min(0).max(1).nullish(),
    max_tokens: z.number().int().min(1).nullish(),
    max_completion_tokens: z.number().int().min(1).nullish(),
    stop: z.union([z.string().max(256), z.array(z.string().max(256)).max(4)]).nullish(),
    seed: z.number().int().nullish(),
    /** One choice per request; more would multiply the cost behind the caller's back. */
    n: z.literal(1).nullish(),
    tools: z.array(z.object({ type: z.literal('function'), function: z.object({ name: z.string().max(64) }).loose() }).loose()).max(128).nullish(),
    tool_choice: z.union([z.enum(['none', 'auto', 'required']), z.object({ type: z.literal('function') }).loose()]).nullish(),
    response_format: z.object({ type: z.enum(['text', 'json_object', 'json_schema']) }).loose().nullish(),
    /** DashScope's switch for thinking models (reasoning arrives as `reasoning_content`). */
    enable_thinking: z.boolean().nullish(),
    user: z.string().max(256).nullish(),
  })
  .loose()
  .superRefine(refuseUpstreamOverrides)
export type ChatCompletionBody = z.infer<typeof ChatCompletionBodySchema>

export const EmbeddingsBodySchema = z
  .object({
    model: z.string().min(1).max(100),
    input: z.union([z.string().min(1).max(100_000), z.array(z.string().min(1).max(100_000)).min(1).max(256)]),
    encoding_format: z.enum(['float', 'base64']).nullish(),
    dimensions: z.number().int().min(1).max(8192).nullish(),
    user: z.string().max(256).nullish(),
  })
  .loose()
  .superRefine(refuseUpstreamOverrides)
export type EmbeddingsBody = z.infer<typeof EmbeddingsBodySchema>

export const ImagesBodySchema = z
  .object({
    prompt: z.string().min(1).max(4_000),
    model: z.string().min(1).max(100).nullish(),
    n: z.number().int().min(1).max(4).nullish(),
    /** OpenAI's `1024x1024`; sent upstream as DashScope's `1024*1024`. */
    size: z.string().regex(/^\d{3,4}[x*]\d{3,4}$/, 'WIDTHxHEIGHT, e.g. 1024x1024').nullish(),
    response_format: z.enum(['url', 'b64_json']).nullish(),
    negative_prompt: z.string().max(500).nullish(),
    seed: z.number().int().min(0).max(2_147_483_647).nullish(),
    quality: z.string().max(32).nullish(),
    style: z.string().max(32).nullish(),
    user: z.string().max(256).nullish(),
  })
  .loose()
  .superRefine(refuseUpstreamOverrides)
export type ImagesBody = z.infer<typeof ImagesBodySchema>

// ── answers ──

const UsageSchema = z
  .object({
    prompt_tokens: z.number().int(),
    completion_tokens: z.number().int(),
    total_tokens: z.number().int(),
    prompt_tokens_details: z.object({ cached_tokens: z.number().int() }).optional(),
    completion_tokens_details: z.object({ reasoning_tokens: z.number().int() }).optional(),
  })
  .loose()

export const ChatCompletionSchema = z
  .object({
    id: z.string(),
    object: z.literal('chat.completion'),
    created: z.number().int(),
    model: z.string(),
    choices: z.array(
      z
        .object({
          index: z.number().int(),
          message: z
            .object({
              role: z.literal('assistant'),
              content: z.string().nullable(),
              reasoning_content: z.string().optional(),
              tool_calls: z.array(ToolCallSchema).optional(),
            })
            .loose(),
          finish_reason: z.string(),
          logprobs: z.null(),
        })
        .loose(),
    ),
    usage: UsageSchema,
    system_fingerprint: z.null(),
  })
  .loose()
export type ChatCompletion = z.infer<typeof ChatCompletionSchema>

export const ModelListSchema = z.object({
  object: z.literal('list'),
  data: z.array(z.object({ id: z.string(), object: z.literal('model'), created: z.number().int(), owned_by: z.string() })),
})
export const ModelObjectSchema = ModelListSchema.shape.data.element

export const EmbeddingListSchema = z.object({
  object: z.literal('list'),
  data: z.array(z.object({ object: z.literal('embedding'), index: z.number().int(), embedding: z.union([z.array(z.number()), z.string()]) })),
  model: z.string(),
  usage: z.object({ prompt_tokens: z.number().int(), total_tokens: z.number().int() }),
})
export type EmbeddingList = z.infer<typeof EmbeddingListSchema>

export const ImagesResponseSchema = z.object({
  created: z.number().int(),
  data: z.array(z.union([z.object({ url: z.string() }), z.object({ b64_json: z.string() })])),
})
export type ImagesResponse = z.infer<typeof ImagesResponseSchema>
