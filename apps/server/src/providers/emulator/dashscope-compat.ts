/**
 * DashScope OpenAI-compatible mode (`/compatible-mode/v1`), per protocols/README.md §1, §3, §5:
 * chat completions (JSON and SSE, thinking, vision), embeddings and the model list.
 */
import { randomUUID } from 'node:crypto'
import { checkContext, complete, maxTokensFor, openAiMessages, positiveInt, readConversation, resolveModel, wantsJson, type Completion } from './chat-core'
import { embed, embeddingJob } from './embeddings'
import type { Exchange } from './exchange'
import { EMULATOR_MODELS, findEmulatorModel } from './models'
import { Reject, streamErrorPayload } from './protocol-errors'

export const COMPAT_PREFIX = '/compatible-mode/v1'

export async function handleCompat(x: Exchange): Promise<void> {
  const route = `${x.req.method} ${x.path.slice(COMPAT_PREFIX.length)}`
  switch (route) {
    case 'POST /chat/completions':
      return chat(x)
    case 'POST /embeddings':
      return embeddings(x)
    case 'GET /models':
      return x.json(200, {
        object: 'list',
        data: EMULATOR_MODELS.filter((m) => m.provider === 'dashscope').map((m) => ({ id: m.id, object: 'model', created: 1735689600, owned_by: 'system' })),
      })
    default:
      throw new Reject('url_not_found')
  }
}

function objectField(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined
}

async function chat(x: Exchange): Promise<void> {
  const body = x.jsonBody()
  if (!body) throw new Reject('invalid_parameter', 'The request body is not valid JSON.')
  const model = resolveModel('dashscope', body.model, 'chat', findEmulatorModel)
  const stream = body.stream === true
  const includeUsage = stream && objectField(body.stream_options, 'include_usage') === true
  if (body.enable_thinking === true) {
    if (model.thinking === 'none') throw new Reject('not_support_thinking')
    if (!stream) throw new Reject('invalid_parameter', 'parameter.enable_thinking must be set to false for non-streaming calls')
  }
  const thinking = model.thinking === 'always' || body.enable_thinking === true
  // Text-only models take string content only; VL models also take part arrays.
  const conversation = readConversation(openAiMessages(body.messages, model.vision, model.vision))
  const completion = complete({
    model,
    conversation,
    thinking,
    maxTokens: maxTokensFor(model, body.max_tokens),
    thinkingBudget: positiveInt(body.thinking_budget, 'thinking_budget'),
    json: wantsJson(body.response_format, conversation),
  })
  checkContext(model, completion)

  const filter = x.take('content_filter')
  if (filter && filter.stage !== 'output') throw new Reject('data_inspection_input')
  const id = `chatcmpl-${randomUUID()}`
  const created = Math.floor(Date.now() / 1000)
  if (!stream) {
    if (filter) throw new Reject('data_inspection_output')
    return x.json(200, {
      choices: [{ message: { role: 'assistant', content: completion.content }, finish_reason: completion.finishReason, index: 0, logprobs: null }],
      object: 'chat.completion',
      usage: usage(completion, thinking),
      created,
      system_fingerprint: null,
      model: model.id,
      id,
    })
  }

  const head = { id, object: 'chat.completion.chunk', created, model: model.id, system_fingerprint: null }
  const frame = (value: unknown) => `data: ${JSON.stringify(value)}\n\n`
  const chunk = (delta: Record<string, unknown>, finishReason: string | null) =>
    frame({ ...head, usage: null, choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }] })

  const frames = [chunk(thinking ? { content: null, role: 'assistant', reasoning_content: '' } : { role: 'assistant', content: '' }, null)]
  for (const piece of completion.reasoningPieces) frames.push(chunk({ content: null, reasoning_content: piece }, null))
  const contentPieces = filter ? completion.contentPieces.slice(0, 3) : completion.contentPieces
  for (const piece of contentPieces) frames.push(chunk(thinking ? { content: piece, reasoning_content: null } : { content: piece }, null))
  if (filter) {
    // Moderation caught the output: an error event, then the stream just ends (no [DONE]).
    frames.push(frame(streamErrorPayload('compat', x.requestId)))
  } else {
    frames.push(chunk(thinking ? { content: '', reasoning_content: null } : { content: '' }, completion.finishReason))
    if (includeUsage) frames.push(frame({ ...head, choices: [], usage: usage(completion, thinking) }))
    frames.push('data: [DONE]\n\n')
  }
  await x.stream(frames, () => 'data: {not json\n\n')
}

function usage(c: Completion, thinking: boolean): Record<string, unknown> {
  return {
    prompt_tokens: c.promptTokens,
    completion_tokens: c.completionTokens,
    total_tokens: c.promptTokens + c.completionTokens,
    ...(thinking ? { completion_tokens_details: { reasoning_tokens: c.reasoningTokens } } : {}),
    prompt_tokens_details: { cached_tokens: c.cachedTokens },
  }
}

async function embeddings(x: Exchange): Promise<void> {
  const body = x.jsonBody()
  if (!body) throw new Reject('invalid_parameter', 'The request body is not valid JSON.')
  const model = resolveModel('dashscope', body.model, 'embedding', findEmulatorModel)
  const job = embeddingJob(model, body.input, body.dimensions)
  const base64 = body.encoding_format === 'base64'
  x.json(200, {
    data: job.texts.map((text, index) => {
      const vector = embed(model.id, text, job.dimensions)
      return { embedding: base64 ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector, index, object: 'embedding' }
    }),
    model: model.id,
    object: 'list',
    usage: { prompt_tokens: job.tokens, total_tokens: job.tokens },
    id: randomUUID(),
  })
}
