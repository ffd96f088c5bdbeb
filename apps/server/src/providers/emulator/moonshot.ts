/**
 * Moonshot / Kimi (`/moonshot/v1`), per protocols/README.md §8: OpenAI-shaped chat (usage in
 * the final choice, plus a separate usage chunk when `stream_options.include_usage`),
 * `reasoning_content` from thinking models, the model list, token estimates and the balance.
 */
import { randomBytes } from 'node:crypto'
import { checkContext, complete, maxTokensFor, openAiMessages, readConversation, resolveModel, wantsJson, type Completion } from './chat-core'
import type { Exchange } from './exchange'
import { EMULATOR_MODELS, findEmulatorModel } from './models'
import { Reject, streamErrorPayload } from './protocol-errors'
import { countPromptTokens } from './tokenizer'

export const MOONSHOT_PREFIX = '/moonshot/v1'

export async function handleMoonshot(x: Exchange): Promise<void> {
  const route = `${x.req.method} ${x.path.slice(MOONSHOT_PREFIX.length)}`
  switch (route) {
    case 'POST /chat/completions':
      return chat(x)
    case 'GET /models':
      return x.json(200, {
        object: 'list',
        data: EMULATOR_MODELS.filter((m) => m.provider === 'moonshot').map((m) => ({ id: m.id, object: 'model', created: 1735689600, owned_by: 'moonshot', root: m.id, parent: null })),
      })
    case 'POST /tokenizers/estimate-token-count':
      return estimate(x)
    case 'GET /users/me/balance':
      return x.json(200, { code: 0, data: { available_balance: 100, voucher_balance: 0, cash_balance: 100 }, scode: '0x0', status: true })
    default:
      throw new Reject('url_not_found')
  }
}

function objectField(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined
}

function usage(c: Completion): Record<string, number> {
  return { prompt_tokens: c.promptTokens, completion_tokens: c.completionTokens, total_tokens: c.promptTokens + c.completionTokens }
}

async function chat(x: Exchange): Promise<void> {
  const body = x.jsonBody()
  if (!body) throw new Reject('invalid_parameter', 'Invalid request: the body is not valid JSON')
  const model = resolveModel('moonshot', body.model, 'chat', findEmulatorModel)
  const stream = body.stream === true
  const includeUsage = stream && objectField(body.stream_options, 'include_usage') === true
  const thinking = model.thinking === 'always'
  // Moonshot takes part arrays on every model; only vision models take image parts.
  const conversation = readConversation(openAiMessages(body.messages, model.vision, true))
  const completion = complete({ model, conversation, thinking, maxTokens: maxTokensFor(model, body.max_tokens), json: wantsJson(body.response_format, conversation) })
  checkContext(model, completion)

  const filter = x.take('content_filter')
  if (filter && filter.stage !== 'output') throw new Reject('data_inspection_input')
  const id = `chatcmpl-${randomBytes(12).toString('hex')}`
  const created = Math.floor(Date.now() / 1000)
  if (!stream) {
    if (filter) throw new Reject('data_inspection_output')
    const message: Record<string, unknown> = { role: 'assistant', content: completion.content }
    if (thinking) message.reasoning_content = completion.reasoning
    return x.json(200, { id, object: 'chat.completion', created, model: model.id, choices: [{ index: 0, message, finish_reason: completion.finishReason }], usage: usage(completion) })
  }

  const head = { id, object: 'chat.completion.chunk', created, model: model.id }
  const frame = (value: unknown) => `data: ${JSON.stringify(value)}\n\n`
  const chunk = (delta: Record<string, unknown>, extra: Record<string, unknown> = {}) => frame({ ...head, choices: [{ index: 0, delta, finish_reason: null, ...extra }] })
  const frames = [chunk({ role: 'assistant', content: '' })]
  for (const piece of completion.reasoningPieces) frames.push(chunk({ reasoning_content: piece }))
  const contentPieces = filter ? completion.contentPieces.slice(0, 3) : completion.contentPieces
  for (const piece of contentPieces) frames.push(chunk({ content: piece }))
  if (filter) {
    frames.push(frame(streamErrorPayload('moonshot', x.requestId)))
  } else {
    // Moonshot's habit: the final choice carries the usage itself.
    frames.push(chunk({}, { finish_reason: completion.finishReason, usage: usage(completion) }))
    if (includeUsage) frames.push(frame({ ...head, choices: [], usage: usage(completion) }))
    frames.push('data: [DONE]\n\n')
  }
  await x.stream(frames, () => 'data: {not json\n\n')
}

async function estimate(x: Exchange): Promise<void> {
  const body = x.jsonBody()
  if (!body) throw new Reject('invalid_parameter', 'Invalid request: the body is not valid JSON')
  const model = resolveModel('moonshot', body.model, 'chat', findEmulatorModel)
  const conversation = readConversation(openAiMessages(body.messages, model.vision, true))
  x.json(200, { data: { total_tokens: countPromptTokens(conversation.messages).total } })
}
