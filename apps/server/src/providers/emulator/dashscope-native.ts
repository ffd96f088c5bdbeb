/**
 * DashScope native API (`/api/v1`), per protocols/README.md §2–§5: text and multimodal
 * generation (JSON and the 4-line SSE events), text embeddings, and the routing of the async
 * image-task endpoints (implemented in image-tasks.ts).
 */
import { checkContext, complete, maxTokensFor, positiveInt, readConversation, resolveModel, type Completion, type RawMessage, type RawPart } from './chat-core'
import { embed, embeddingJob } from './embeddings'
import type { Exchange } from './exchange'
import type { ImageTasks } from './image-tasks'
import { findEmulatorModel } from './models'
import { Reject, streamErrorPayload } from './protocol-errors'
import { countTokens } from './tokenizer'

export const NATIVE_PREFIX = '/api/v1'

export async function handleNative(x: Exchange, tasks: ImageTasks): Promise<void> {
  const sub = x.path.slice(NATIVE_PREFIX.length)
  const method = x.req.method
  if (method === 'POST' && sub === '/services/aigc/text-generation/generation') return generation(x, false)
  if (method === 'POST' && sub === '/services/aigc/multimodal-generation/generation') return generation(x, true)
  if (method === 'POST' && sub === '/services/aigc/text2image/image-synthesis') return tasks.create(x)
  if (method === 'POST' && sub === '/services/embeddings/text-embedding/text-embedding') return embeddings(x)
  const task = /^\/tasks\/([^/]+)(\/cancel)?$/.exec(sub)
  if (task && method === 'GET' && !task[2]) return tasks.query(x, decodeURIComponent(task[1]!))
  if (task && method === 'POST' && task[2]) return tasks.cancel(x, decodeURIComponent(task[1]!))
  throw new Reject('url_not_found')
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {}
}

/** Native message content: a string, or (multimodal only) an array of `{text}` / `{image}` items. */
function nativeParts(content: unknown, multimodal: boolean): RawPart[] {
  if (typeof content === 'string') return [{ text: content }]
  if (!multimodal) throw new Reject('invalid_parameter', 'input content must be a string.')
  if (!Array.isArray(content)) throw new Reject('invalid_parameter', 'input content must be a string or an array.')
  return content.map((item: unknown): RawPart => {
    const part = record(item)
    if (typeof part.text === 'string') return { text: part.text }
    if ('image' in part) return { image: part.image }
    throw new Reject('invalid_parameter', 'Each content item must be {"text":...} or {"image":...}.')
  })
}

function nativeMessages(input: Record<string, unknown>, multimodal: boolean): RawMessage[] {
  if (Array.isArray(input.messages) && input.messages.length > 0) {
    return input.messages.map((m: unknown): RawMessage => {
      const msg = record(m)
      if (typeof msg.role !== 'string' || !['system', 'user', 'assistant', 'tool'].includes(msg.role)) {
        throw new Reject('invalid_parameter', 'Each message needs a role of system, user, assistant or tool.')
      }
      return { role: msg.role, parts: nativeParts(msg.content, multimodal) }
    })
  }
  if (!multimodal && typeof input.prompt === 'string' && input.prompt.length > 0) return [{ role: 'user', parts: [{ text: input.prompt }] }]
  throw new Reject('invalid_parameter', 'Either "prompt" or "messages" must exist and cannot both be none')
}

function wantsStream(x: Exchange): boolean {
  return x.header('x-dashscope-sse')?.toLowerCase() === 'enable' || (x.header('accept') ?? '').includes('text/event-stream')
}

async function generation(x: Exchange, multimodal: boolean): Promise<void> {
  const body = x.jsonBody()
  if (!body) throw new Reject('invalid_parameter', 'The request body is not valid JSON.')
  const model = resolveModel('dashscope', body.model, 'chat', findEmulatorModel)
  // Each endpoint serves only its own kind of model; DashScope words the mismatch this way.
  if (multimodal !== model.vision) throw new Reject('invalid_parameter', 'url error, please check url!')
  const params = record(body.parameters)
  const raw = nativeMessages(record(body.input), multimodal)
  const stream = wantsStream(x)
  const resultFormat = params.result_format ?? 'message'
  if (resultFormat !== 'message' && resultFormat !== 'text') throw new Reject('invalid_parameter', 'result_format must be "message" or "text".')
  if (multimodal && resultFormat === 'text') throw new Reject('invalid_parameter', 'result_format "text" is not supported by multimodal models.')
  const incremental = params.incremental_output === true
  if (params.enable_thinking === true) {
    if (model.thinking === 'none') throw new Reject('not_support_thinking')
    if (!stream) throw new Reject('invalid_parameter', 'parameter.enable_thinking must be set to false for non-streaming calls')
    if (!incremental) throw new Reject('invalid_parameter', 'parameter.incremental_output must be set to true when enable_thinking is true')
    if (resultFormat !== 'message') throw new Reject('invalid_parameter', 'parameter.result_format must be "message" when enable_thinking is true')
  }
  const thinking = params.enable_thinking === true
  const conversation = readConversation(raw)
  const completion = complete({
    model,
    conversation,
    thinking,
    maxTokens: maxTokensFor(model, params.max_tokens),
    thinkingBudget: positiveInt(params.thinking_budget, 'thinking_budget'),
  })
  checkContext(model, completion)

  const filter = x.take('content_filter')
  if (filter && filter.stage !== 'output') throw new Reject('data_inspection_input')
  const shape = { multimodal, text: resultFormat === 'text', thinking }
  if (!stream) {
    if (filter) throw new Reject('data_inspection_output')
    return x.json(200, {
      output: output(shape, completion.reasoning, completion.content, completion.finishReason),
      usage: usage(completion, completion.reasoning, completion.content, multimodal, thinking),
      request_id: x.requestId,
    })
  }

  // One step per streamed piece; each event carries either that piece (incremental) or the
  // whole text so far, and the usage of everything sent so far.
  type Step = { reasoning: string; content: string }
  const steps: Step[] = [...completion.reasoningPieces.map((p) => ({ reasoning: p, content: '' })), ...completion.contentPieces.map((p) => ({ reasoning: '', content: p }))]
  if (steps.length === 0) steps.push({ reasoning: '', content: '' })
  const kept = filter ? steps.slice(0, completion.reasoningPieces.length + Math.min(3, completion.contentPieces.length)) : steps
  const frames: string[] = []
  let reasoningSoFar = ''
  let contentSoFar = ''
  kept.forEach((step, i) => {
    reasoningSoFar += step.reasoning
    contentSoFar += step.content
    const finish = !filter && i === kept.length - 1 ? completion.finishReason : 'null'
    const payload = {
      output: incremental ? output(shape, step.reasoning, step.content, finish) : output(shape, reasoningSoFar, contentSoFar, finish),
      usage: usage(completion, reasoningSoFar, contentSoFar, multimodal, thinking),
      request_id: x.requestId,
    }
    frames.push(`id:${i + 1}\nevent:result\n:HTTP_STATUS/200\ndata:${JSON.stringify(payload)}\n\n`)
  })
  if (filter) frames.push(`id:${kept.length + 1}\nevent:error\n:HTTP_STATUS/400\ndata:${JSON.stringify(streamErrorPayload('native', x.requestId))}\n\n`)
  await x.stream(frames, (seq) => `id:${seq}\nevent:result\n:HTTP_STATUS/200\ndata:{not json\n\n`)
}

function output(shape: { multimodal: boolean; text: boolean; thinking: boolean }, reasoning: string, content: string, finishReason: string): Record<string, unknown> {
  if (shape.text) return { finish_reason: finishReason, text: content }
  const message: Record<string, unknown> = { role: 'assistant', content: shape.multimodal ? [{ text: content }] : content }
  if (shape.thinking) message.reasoning_content = reasoning
  return { choices: [{ finish_reason: finishReason, message }] }
}

/** Usage of the text sent so far (cumulative, as every native event carries it). */
function usage(c: Completion, reasoning: string, content: string, multimodal: boolean, thinking: boolean): Record<string, unknown> {
  const reasoningTokens = countTokens(reasoning)
  const outputTokens = reasoningTokens + countTokens(content)
  return {
    input_tokens: c.promptTokens,
    output_tokens: outputTokens,
    total_tokens: c.promptTokens + outputTokens,
    ...(multimodal ? { image_tokens: c.imageTokens } : {}),
    ...(thinking ? { output_tokens_details: { reasoning_tokens: reasoningTokens } } : {}),
    ...(c.cachedTokens > 0 ? { prompt_tokens_details: { cached_tokens: c.cachedTokens } } : {}),
  }
}

async function embeddings(x: Exchange): Promise<void> {
  const body = x.jsonBody()
  if (!body) throw new Reject('invalid_parameter', 'The request body is not valid JSON.')
  const model = resolveModel('dashscope', body.model, 'embedding', findEmulatorModel)
  const job = embeddingJob(model, record(body.input).texts, record(body.parameters).dimension)
  x.json(200, {
    output: { embeddings: job.texts.map((text, i) => ({ text_index: i, embedding: embed(model.id, text, job.dimensions) })) },
    usage: { total_tokens: job.tokens },
    request_id: x.requestId,
  })
}
