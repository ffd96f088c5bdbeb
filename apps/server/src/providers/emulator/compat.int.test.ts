import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from './index'
import { KEY, dataLines, get, pngDataUri, post, readRaw, send } from './test-support'
import { countPromptTokens, countTokens } from './tokenizer'

let emu: Emulator
let base: string
beforeAll(async () => {
  emu = await startEmulator({ chunkDelayMs: 0 })
  base = `${emu.url}/compatible-mode/v1`
})
afterAll(() => emu.close())

const question = [{ role: 'system', content: 'You are helpful.' }, { role: 'user', content: 'Who are you?' }]

describe('DashScope compatible mode: chat completions', () => {
  it('answers a non-stream request in the chat.completion shape with honest usage', async () => {
    const res = await post(`${base}/chat/completions`, { model: 'qwen-plus', messages: question })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/json')
    const body = await res.json()
    expect(body.id).toMatch(/^chatcmpl-[0-9a-f-]{36}$/)
    expect(body).toMatchObject({ object: 'chat.completion', model: 'qwen-plus', system_fingerprint: null })
    expect(body.choices).toHaveLength(1)
    expect(body.choices[0]).toMatchObject({ index: 0, finish_reason: 'stop', logprobs: null, message: { role: 'assistant' } })
    const content: string = body.choices[0].message.content
    expect(content).toContain('Qiao emulator')
    expect(content).toContain('"Who are you?"')
    expect(body.usage).toEqual({
      prompt_tokens: countPromptTokens([
        { role: 'system', text: 'You are helpful.' },
        { role: 'user', text: 'Who are you?' },
      ]).total,
      completion_tokens: countTokens(content),
      total_tokens: body.usage.prompt_tokens + countTokens(content),
      prompt_tokens_details: { cached_tokens: 0 },
    })
  })

  it('answers the same conversation with the same text, and a Chinese question in Chinese', async () => {
    const a = await (await post(`${base}/chat/completions`, { model: 'qwen-max', messages: question })).json()
    const b = await (await post(`${base}/chat/completions`, { model: 'qwen-max', messages: question })).json()
    expect(a.choices[0].message.content).toBe(b.choices[0].message.content)
    expect(a.id).not.toBe(b.id)
    const zh = await (await post(`${base}/chat/completions`, { model: 'qwen-max', messages: [{ role: 'user', content: '你是谁？' }] })).json()
    expect(zh.choices[0].message.content).toContain('模拟器')
    expect(zh.choices[0].message.content).toContain('“你是谁？”')
  })

  it('streams role chunk, content chunks, finish chunk and [DONE], without a usage chunk unless asked', async () => {
    const res = await post(`${base}/chat/completions`, { model: 'qwen-turbo', messages: question, stream: true })
    expect(res.headers.get('content-type')).toBe('text/event-stream;charset=UTF-8')
    const lines = dataLines((await readRaw(res)).text)
    expect(lines.at(-1)).toBe('[DONE]')
    const chunks = lines.slice(0, -1).map((l) => JSON.parse(l))
    const { id, created } = chunks[0]
    for (const c of chunks) {
      expect(c).toMatchObject({ id, created, model: 'qwen-turbo', object: 'chat.completion.chunk', system_fingerprint: null, usage: null })
      expect(c.choices).toHaveLength(1)
    }
    expect(chunks[0].choices[0]).toEqual({ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null, logprobs: null })
    const last = chunks.at(-1)
    expect(last.choices[0]).toEqual({ index: 0, delta: { content: '' }, finish_reason: 'stop', logprobs: null })
    const middle = chunks.slice(1, -1)
    expect(middle.length).toBeGreaterThan(5)
    for (const c of middle) expect(Object.keys(c.choices[0].delta)).toEqual(['content'])
    // Streamed text equals the non-stream answer.
    const streamed = middle.map((c) => c.choices[0].delta.content).join('')
    const whole = await (await post(`${base}/chat/completions`, { model: 'qwen-turbo', messages: question })).json()
    expect(streamed).toBe(whole.choices[0].message.content)
  })

  it('adds a choices:[] usage chunk before [DONE] with include_usage, counting exactly the streamed text', async () => {
    const res = await post(`${base}/chat/completions`, { model: 'qwen3-max', messages: question, stream: true, stream_options: { include_usage: true } })
    const lines = dataLines((await readRaw(res)).text)
    expect(lines.at(-1)).toBe('[DONE]')
    const chunks = lines.slice(0, -1).map((l) => JSON.parse(l))
    const usageChunk = chunks.at(-1)
    expect(usageChunk.choices).toEqual([])
    expect(usageChunk.id).toBe(chunks[0].id)
    expect(usageChunk).not.toHaveProperty('usage', null)
    expect(chunks.at(-2).choices[0].finish_reason).toBe('stop')
    const streamed = chunks.slice(0, -1).map((c) => c.choices[0].delta.content).join('')
    expect(usageChunk.usage.completion_tokens).toBe(countTokens(streamed))
    expect(usageChunk.usage.total_tokens).toBe(usageChunk.usage.prompt_tokens + usageChunk.usage.completion_tokens)
    expect(usageChunk.usage.prompt_tokens_details).toEqual({ cached_tokens: 0 })
  })

  it('streams reasoning_content first, then the answer, with reasoning_tokens in usage', async () => {
    const res = await post(`${base}/chat/completions`, { model: 'qwen-plus', messages: question, stream: true, enable_thinking: true, stream_options: { include_usage: true } })
    const chunks = dataLines((await readRaw(res)).text)
      .slice(0, -1)
      .map((l) => JSON.parse(l))
    expect(chunks[0].choices[0].delta).toEqual({ content: null, role: 'assistant', reasoning_content: '' })
    const deltas = chunks.slice(1, -2).map((c) => c.choices[0].delta)
    const firstAnswer = deltas.findIndex((d) => d.content !== null)
    expect(firstAnswer).toBeGreaterThan(0)
    for (const d of deltas.slice(0, firstAnswer)) expect(d).toEqual({ content: null, reasoning_content: expect.any(String) })
    for (const d of deltas.slice(firstAnswer)) expect(d).toEqual({ content: expect.any(String), reasoning_content: null })
    const reasoning = deltas.slice(0, firstAnswer).map((d) => d.reasoning_content).join('')
    const answer = deltas.slice(firstAnswer).map((d) => d.content).join('')
    expect(reasoning).toContain('emulator')
    const usage = chunks.at(-1).usage
    expect(usage.completion_tokens_details).toEqual({ reasoning_tokens: countTokens(reasoning) })
    expect(usage.completion_tokens).toBe(countTokens(reasoning) + countTokens(answer))
  })

  it('refuses thinking without streaming, and thinking on a model without it', async () => {
    const res = await post(`${base}/chat/completions`, { model: 'qwen-plus', messages: question, enable_thinking: true })
    expect(res.status).toBe(400)
    expect((await res.json()).error).toMatchObject({ code: 'invalid_parameter_error', type: 'invalid_request_error', param: null, message: expect.stringContaining('enable_thinking') })
    const res2 = await post(`${base}/chat/completions`, { model: 'qwen-max', messages: question, stream: true, enable_thinking: true })
    expect(res2.status).toBe(400)
    expect((await res2.json()).error.code).toBe('InvalidParameter.NotSupportEnableThinking')
  })

  it('stops at max_tokens with finish_reason length', async () => {
    const body = await (await post(`${base}/chat/completions`, { model: 'qwen-plus', messages: question, max_tokens: 7 })).json()
    expect(body.choices[0].finish_reason).toBe('length')
    expect(body.usage.completion_tokens).toBe(countTokens(body.choices[0].message.content))
    expect(body.usage.completion_tokens).toBeLessThanOrEqual(7)
    expect(body.usage.completion_tokens).toBeGreaterThan(0)
  })

  it('gives a long answer with many chunks when asked for one', async () => {
    const res = await post(`${base}/chat/completions`, { model: 'qwen-plus', messages: [{ role: 'user', content: 'Please write a long answer' }], stream: true })
    expect(dataLines((await readRaw(res)).text).length).toBeGreaterThan(40)
  })

  it('reports cached tokens for the earlier turns of a long conversation', async () => {
    const history = [
      { role: 'system', content: 'word '.repeat(400) },
      { role: 'user', content: 'first' },
      { role: 'assistant', content: 'reply' },
      { role: 'user', content: 'second' },
    ]
    const body = await (await post(`${base}/chat/completions`, { model: 'qwen-plus', messages: history })).json()
    expect(body.usage.prompt_tokens_details.cached_tokens).toBeGreaterThanOrEqual(256)
    expect(body.usage.prompt_tokens_details.cached_tokens % 64).toBe(0)
    expect(body.usage.prompt_tokens_details.cached_tokens).toBeLessThan(body.usage.prompt_tokens)
  })

  it('returns JSON content for response_format json_object, and refuses it when no message mentions json', async () => {
    const ok = await (await post(`${base}/chat/completions`, { model: 'qwen-plus', messages: [{ role: 'user', content: 'Reply in JSON' }], response_format: { type: 'json_object' } })).json()
    expect(JSON.parse(ok.choices[0].message.content)).toMatchObject({ emulator: true, model: 'qwen-plus' })
    const bad = await post(`${base}/chat/completions`, { model: 'qwen-plus', messages: question, response_format: { type: 'json_object' } })
    expect(bad.status).toBe(400)
  })
})

describe('DashScope compatible mode: vision', () => {
  it('describes a data-URI PNG by its real format and size', async () => {
    const messages = [{ role: 'user', content: [{ type: 'image_url', image_url: { url: pngDataUri(40, 30) } }, { type: 'text', text: 'What is this?' }] }]
    const res = await post(`${base}/chat/completions`, { model: 'qwen-vl-max', messages })
    expect(res.status).toBe(200)
    const body = await res.json()
    expect(body.choices[0].message.content).toContain('PNG, 40×30 pixels')
    expect(typeof body.choices[0].message.content).toBe('string')
    // 40×30 → 2×2 tiles of 28 px, at the 4-token floor.
    expect(body.usage.prompt_tokens).toBe(countPromptTokens([{ role: 'user', text: 'What is this?', images: [{ width: 40, height: 30 }] }]).total)
  })

  it('accepts an https image without fetching it', async () => {
    const messages = [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } }, { type: 'text', text: 'Describe' }] }]
    const body = await (await post(`${base}/chat/completions`, { model: 'qwen-vl-plus', messages })).json()
    expect(body.choices[0].message.content).toContain('remote URL')
  })

  it.each([
    ['a data URI without base64', 'data:image/png,AAAA'],
    ['bytes that are not an image', `data:image/png;base64,${Buffer.from('this is not a picture at all').toString('base64')}`],
    ['an image under 10 px', pngDataUri(5, 5)],
    ['a non-URL', 'file:///etc/passwd'],
  ])('refuses %s with 400', async (_label, url) => {
    const messages = [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }] }]
    const res = await post(`${base}/chat/completions`, { model: 'qwen-vl-max', messages })
    expect(res.status).toBe(400)
    expect((await res.json()).error.code).toBe('invalid_parameter_error')
  })

  it('refuses array content on a text-only model', async () => {
    const res = await post(`${base}/chat/completions`, { model: 'qwen-plus', messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] })
    expect(res.status).toBe(400)
    expect((await res.json()).error.message).toContain('must be a string')
  })
})

describe('DashScope compatible mode: errors, embeddings, models', () => {
  it('answers a bad or missing key with 401 in the OpenAI envelope', async () => {
    for (const auth of ['Bearer sk-invalid-1', 'Bearer nope', '']) {
      const res = await send(`${base}/chat/completions`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'qwen-plus', messages: question }) })
      expect(res.status).toBe(401)
      const body = await res.json()
      expect(body.error).toEqual({ message: 'Incorrect API key provided. ', type: 'invalid_request_error', param: null, code: 'invalid_api_key' })
    }
  })

  it('honours an explicit key list', async () => {
    const strict = await startEmulator({ validKeys: ['sk-only-this'] })
    try {
      const bad = await post(`${strict.url}/compatible-mode/v1/chat/completions`, { model: 'qwen-plus', messages: question })
      expect(bad.status).toBe(401)
      const good = await post(`${strict.url}/compatible-mode/v1/chat/completions`, { model: 'qwen-plus', messages: question }, { authorization: 'Bearer sk-only-this' })
      expect(good.status).toBe(200)
    } finally {
      await strict.close()
    }
  })

  it('answers an unknown model, or a Moonshot model, with 404 model_not_found', async () => {
    for (const model of ['gpt-4o', 'moonshot-v1-8k']) {
      const res = await post(`${base}/chat/completions`, { model, messages: question })
      expect(res.status).toBe(404)
      expect((await res.json()).error.code).toBe('model_not_found')
    }
  })

  it('returns deterministic unit-length embeddings of the requested dimension', async () => {
    const res = await post(`${base}/embeddings`, { model: 'text-embedding-v3', input: ['hello', 'world'], encoding_format: 'float' })
    const body = await res.json()
    expect(body).toMatchObject({ object: 'list', model: 'text-embedding-v3', usage: { prompt_tokens: countTokens('hello') + countTokens('world'), total_tokens: 4 } })
    expect(body.data.map((d: { index: number; object: string }) => [d.index, d.object])).toEqual([
      [0, 'embedding'],
      [1, 'embedding'],
    ])
    const v: number[] = body.data[0].embedding
    expect(v).toHaveLength(1024)
    expect(Math.abs(Math.hypot(...v) - 1)).toBeLessThan(1e-9)
    const again = await (await post(`${base}/embeddings`, { model: 'text-embedding-v3', input: 'hello' })).json()
    expect(again.data[0].embedding).toEqual(v)
    const small = await (await post(`${base}/embeddings`, { model: 'text-embedding-v4', input: 'hello', dimensions: 512 })).json()
    expect(small.data[0].embedding).toHaveLength(512)
    const tooMany = await post(`${base}/embeddings`, { model: 'text-embedding-v3', input: Array.from({ length: 11 }, (_, i) => `t${i}`) })
    expect(tooMany.status).toBe(400)
    const badDims = await post(`${base}/embeddings`, { model: 'text-embedding-v3', input: 'x', dimensions: 2048 })
    expect(badDims.status).toBe(400)
  })

  it('lists only the DashScope models', async () => {
    const res = await get(`${base}/models`)
    const ids = (await res.json()).data.map((m: { id: string }) => m.id)
    expect(ids).toContain('qwen-plus')
    expect(ids).toContain('wanx2.1-t2i-turbo')
    expect(ids).not.toContain('moonshot-v1-8k')
  })

  it('records every request with its headers and body', async () => {
    const before = emu.requests.length
    await post(`${base}/chat/completions`, { model: 'qwen-plus', messages: question })
    const rec = emu.requests[before]!
    expect(rec).toMatchObject({ method: 'POST', path: '/compatible-mode/v1/chat/completions', status: 200, aborted: false })
    expect(rec.headers.authorization).toBe(`Bearer ${KEY}`)
    expect(JSON.parse(rec.body).model).toBe('qwen-plus')
  })
})
