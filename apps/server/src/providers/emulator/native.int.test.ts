import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from './index'
import { nativeEvents, pngDataUri, post, readRaw } from './test-support'
import { countPromptTokens, countTokens, imageTokens } from './tokenizer'

let emu: Emulator
let base: string
beforeAll(async () => {
  emu = await startEmulator({ chunkDelayMs: 0 })
  base = `${emu.url}/api/v1`
})
afterAll(() => emu.close())

const gen = () => `${base}/services/aigc/text-generation/generation`
const mm = () => `${base}/services/aigc/multimodal-generation/generation`
const messages = [{ role: 'user', content: 'Who are you?' }]
const SSE = { 'X-DashScope-SSE': 'enable' }

describe('DashScope native: text generation', () => {
  it('answers a non-stream request with output.choices, usage and request_id', async () => {
    const res = await post(gen(), { model: 'qwen-plus', input: { messages }, parameters: { result_format: 'message' } })
    expect(res.status).toBe(200)
    const body = await res.json()
    expect(Object.keys(body).sort()).toEqual(['output', 'request_id', 'usage'])
    expect(body.request_id).toMatch(/^[0-9a-f-]{36}$/)
    expect(res.headers.get('x-request-id')).toBe(body.request_id)
    const choice = body.output.choices[0]
    expect(choice.finish_reason).toBe('stop')
    expect(choice.message.role).toBe('assistant')
    expect(choice.message.content).toContain('"Who are you?"')
    const input = countPromptTokens([{ role: 'user', text: 'Who are you?' }]).total
    expect(body.usage).toEqual({ input_tokens: input, output_tokens: countTokens(choice.message.content), total_tokens: input + countTokens(choice.message.content) })
  })

  it('returns output.text with result_format text, and accepts a legacy prompt', async () => {
    const body = await (await post(gen(), { model: 'qwen-turbo', input: { prompt: 'Who are you?' }, parameters: { result_format: 'text' } })).json()
    expect(body.output).toEqual({ finish_reason: 'stop', text: expect.stringContaining('Qiao emulator') })
    expect(body.output).not.toHaveProperty('choices')
  })

  it('refuses a body whose messages sit outside input', async () => {
    const res = await post(gen(), { model: 'qwen-plus', messages })
    expect(res.status).toBe(400)
    const body = await res.json()
    expect(body).toEqual({ code: 'InvalidParameter', message: 'Either "prompt" or "messages" must exist and cannot both be none', request_id: expect.any(String) })
  })

  it('streams 4-line events with no space after colons, "null" finish reasons, cumulative usage, one request_id and no [DONE]', async () => {
    const res = await post(gen(), { model: 'qwen-plus', input: { messages }, parameters: { incremental_output: true } }, SSE)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/event-stream;charset=UTF-8')
    const text = (await readRaw(res)).text
    expect(text).not.toContain('[DONE]')
    const events = nativeEvents(text)
    expect(events.length).toBeGreaterThan(5)
    const payloads = events.map((e) => JSON.parse(e.data))
    events.forEach((e, i) => {
      expect(e).toMatchObject({ id: String(i + 1), event: 'result', status: '200' })
    })
    const requestIds = new Set(payloads.map((p) => p.request_id))
    expect(requestIds.size).toBe(1)
    let sofar = ''
    payloads.forEach((p, i) => {
      const choice = p.output.choices[0]
      expect(choice.finish_reason).toBe(i === payloads.length - 1 ? 'stop' : 'null')
      sofar += choice.message.content
      expect(p.usage.output_tokens).toBe(countTokens(sofar))
      expect(p.usage.total_tokens).toBe(p.usage.input_tokens + p.usage.output_tokens)
    })
    const whole = await (await post(gen(), { model: 'qwen-plus', input: { messages } })).json()
    expect(sofar).toBe(whole.output.choices[0].message.content)
  })

  it('also streams on Accept: text/event-stream, and sends the whole text so far without incremental_output', async () => {
    const res = await post(gen(), { model: 'qwen-plus', input: { messages } }, { accept: 'text/event-stream' })
    const payloads = nativeEvents((await readRaw(res)).text).map((e) => JSON.parse(e.data))
    const contents: string[] = payloads.map((p) => p.output.choices[0].message.content)
    for (let i = 1; i < contents.length; i++) {
      expect(contents[i]!.startsWith(contents[i - 1]!)).toBe(true)
      expect(contents[i]!.length).toBeGreaterThan(contents[i - 1]!.length)
    }
    expect(payloads.at(-1).usage.output_tokens).toBe(countTokens(contents.at(-1)!))
  })

  it('streams reasoning_content before the answer when thinking, and refuses thinking without stream or incremental output', async () => {
    const res = await post(gen(), { model: 'qwen3-max', input: { messages }, parameters: { enable_thinking: true, incremental_output: true } }, SSE)
    const payloads = nativeEvents((await readRaw(res)).text).map((e) => JSON.parse(e.data))
    const msgs = payloads.map((p) => p.output.choices[0].message)
    const firstAnswer = msgs.findIndex((m) => m.content !== '')
    expect(firstAnswer).toBeGreaterThan(0)
    expect(msgs.slice(0, firstAnswer).every((m) => m.reasoning_content !== '')).toBe(true)
    const reasoning = msgs.map((m) => m.reasoning_content).join('')
    const answer = msgs.map((m) => m.content).join('')
    const usage = payloads.at(-1).usage
    expect(usage.output_tokens_details).toEqual({ reasoning_tokens: countTokens(reasoning) })
    expect(usage.output_tokens).toBe(countTokens(reasoning) + countTokens(answer))

    const noStream = await post(gen(), { model: 'qwen3-max', input: { messages }, parameters: { enable_thinking: true, incremental_output: true } })
    expect(noStream.status).toBe(400)
    expect((await noStream.json()).code).toBe('InvalidParameter')
    const notIncremental = await post(gen(), { model: 'qwen3-max', input: { messages }, parameters: { enable_thinking: true } }, SSE)
    expect(notIncremental.status).toBe(400)
    const unsupported = await post(gen(), { model: 'qwen-max', input: { messages }, parameters: { enable_thinking: true, incremental_output: true } }, SSE)
    expect((await unsupported.json()).code).toBe('InvalidParameter.NotSupportEnableThinking')
  })

  it('answers a bad key with 401 InvalidApiKey in the native shape, and an unknown model with 404 ModelNotFound', async () => {
    const res = await post(gen(), { model: 'qwen-plus', input: { messages } }, { authorization: 'Bearer sk-invalid' })
    expect(res.status).toBe(401)
    expect(await res.json()).toEqual({ code: 'InvalidApiKey', message: 'Invalid API-key provided.', request_id: expect.any(String) })
    const unknown = await post(gen(), { model: 'qwen-ultra', input: { messages } })
    expect(unknown.status).toBe(404)
    expect((await unknown.json()).code).toBe('ModelNotFound')
  })

  it('refuses a VL model on the text endpoint and a text model on the multimodal endpoint', async () => {
    const a = await post(gen(), { model: 'qwen-vl-plus', input: { messages } })
    expect(a.status).toBe(400)
    expect((await a.json()).message).toBe('url error, please check url!')
    const b = await post(mm(), { model: 'qwen-plus', input: { messages } })
    expect(b.status).toBe(400)
  })
})

describe('DashScope native: multimodal generation', () => {
  const vlMessages = [{ role: 'user', content: [{ image: pngDataUri(64, 32) }, { text: 'Describe it' }] }]

  it('answers with content as an array of {text} and reports image tokens', async () => {
    const body = await (await post(mm(), { model: 'qwen-vl-plus', input: { messages: vlMessages }, parameters: {} })).json()
    const content = body.output.choices[0].message.content
    expect(content).toEqual([{ text: expect.stringContaining('PNG, 64×32 pixels') }])
    expect(body.usage.image_tokens).toBe(imageTokens(64, 32))
    expect(body.usage.input_tokens).toBe(countPromptTokens([{ role: 'user', text: 'Describe it', images: [{ width: 64, height: 32 }] }]).total)
  })

  it('streams in the native framing with array content', async () => {
    const res = await post(mm(), { model: 'qwen-vl-max', input: { messages: vlMessages }, parameters: { incremental_output: true } }, SSE)
    const payloads = nativeEvents((await readRaw(res)).text).map((e) => JSON.parse(e.data))
    const text = payloads.map((p) => p.output.choices[0].message.content[0].text).join('')
    expect(text).toContain('64×32')
    expect(payloads.at(-1).output.choices[0].finish_reason).toBe('stop')
  })

  it('refuses a non-image data URI', async () => {
    const bad = [{ role: 'user', content: [{ image: `data:image/jpeg;base64,${Buffer.from('GIF? no').toString('base64')}` }, { text: 'x' }] }]
    const res = await post(mm(), { model: 'qwen-vl-plus', input: { messages: bad } })
    expect(res.status).toBe(400)
    expect((await res.json()).code).toBe('InvalidParameter')
  })
})

describe('DashScope native: embeddings', () => {
  it('returns output.embeddings with text_index and total_tokens', async () => {
    const res = await post(`${base}/services/embeddings/text-embedding/text-embedding`, { model: 'text-embedding-v4', input: { texts: ['风急天高', 'hello'] }, parameters: { dimension: 256, text_type: 'query' } })
    const body = await res.json()
    expect(body.output.embeddings.map((e: { text_index: number }) => e.text_index)).toEqual([0, 1])
    expect(body.output.embeddings[0].embedding).toHaveLength(256)
    expect(body.usage).toEqual({ total_tokens: countTokens('风急天高') + countTokens('hello') })
    expect(body.request_id).toEqual(expect.any(String))
  })
})
