import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from './index'
import { dataLines, get, pngDataUri, post, readRaw } from './test-support'
import { countPromptTokens, countTokens } from './tokenizer'

let emu: Emulator
beforeAll(async () => {
  emu = await startEmulator({ chunkDelayMs: 0 })
})
afterAll(() => emu.close())

const messages = [{ role: 'user', content: '你好，你是谁？' }]

describe('Moonshot chat completions', () => {
  it('answers non-stream in the OpenAI shape with usage', async () => {
    expect(emu.moonshotUrl).toBe(`${emu.url}/moonshot/v1`)
    const body = await (await post(`${emu.moonshotUrl}/chat/completions`, { model: 'moonshot-v1-8k', messages })).json()
    expect(body.id).toMatch(/^chatcmpl-[0-9a-f]{24}$/)
    expect(body).toMatchObject({ object: 'chat.completion', model: 'moonshot-v1-8k' })
    const content = body.choices[0].message.content
    expect(content).toContain('模拟器')
    const prompt = countPromptTokens([{ role: 'user', text: '你好，你是谁？' }]).total
    expect(body.usage).toEqual({ prompt_tokens: prompt, completion_tokens: countTokens(content), total_tokens: prompt + countTokens(content) })
  })

  it('streams with usage inside the final choice and ends with [DONE]', async () => {
    const res = await post(`${emu.moonshotUrl}/chat/completions`, { model: 'kimi-k2-turbo-preview', messages, stream: true })
    expect(res.headers.get('content-type')).toBe('text/event-stream')
    const lines = dataLines((await readRaw(res)).text)
    expect(lines.at(-1)).toBe('[DONE]')
    const chunks = lines.slice(0, -1).map((l) => JSON.parse(l))
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' })
    const final = chunks.at(-1).choices[0]
    expect(final.finish_reason).toBe('stop')
    const text = chunks.map((c) => c.choices[0].delta.content ?? '').join('')
    expect(final.usage.completion_tokens).toBe(countTokens(text))
    expect(chunks.every((c) => c.choices.length === 1)).toBe(true)
  })

  it('adds a separate choices:[] usage chunk with stream_options.include_usage', async () => {
    const res = await post(`${emu.moonshotUrl}/chat/completions`, { model: 'moonshot-v1-32k', messages, stream: true, stream_options: { include_usage: true } })
    const chunks = dataLines((await readRaw(res)).text)
      .slice(0, -1)
      .map((l) => JSON.parse(l))
    expect(chunks.at(-1).choices).toEqual([])
    expect(chunks.at(-1).usage).toEqual(chunks.at(-2).choices[0].usage)
  })

  it('streams reasoning_content from kimi-k2-thinking, counted in completion tokens', async () => {
    const res = await post(`${emu.moonshotUrl}/chat/completions`, { model: 'kimi-k2-thinking', messages: [{ role: 'user', content: 'Think first' }], stream: true })
    const chunks = dataLines((await readRaw(res)).text)
      .slice(0, -1)
      .map((l) => JSON.parse(l))
    const reasoning = chunks.map((c) => c.choices[0].delta.reasoning_content ?? '').join('')
    const answer = chunks.map((c) => c.choices[0].delta.content ?? '').join('')
    expect(reasoning).toContain('emulator')
    expect(chunks.at(-1).choices[0].usage.completion_tokens).toBe(countTokens(reasoning) + countTokens(answer))
    const plain = await (await post(`${emu.moonshotUrl}/chat/completions`, { model: 'kimi-k2-thinking', messages })).json()
    expect(plain.choices[0].message.reasoning_content).toEqual(expect.any(String))
  })

  it('takes images on the vision model only', async () => {
    const content = [{ type: 'image_url', image_url: { url: pngDataUri(30, 30) } }, { type: 'text', text: '这是什么？' }]
    const ok = await (await post(`${emu.moonshotUrl}/chat/completions`, { model: 'moonshot-v1-8k-vision-preview', messages: [{ role: 'user', content }] })).json()
    expect(ok.choices[0].message.content).toContain('PNG 格式，30×30 像素')
    const refused = await post(`${emu.moonshotUrl}/chat/completions`, { model: 'moonshot-v1-8k', messages: [{ role: 'user', content }] })
    expect(refused.status).toBe(400)
    expect((await refused.json()).error.type).toBe('invalid_request_error')
  })

  it('estimates tokens exactly as chat counts prompt tokens', async () => {
    const res = await post(`${emu.moonshotUrl}/tokenizers/estimate-token-count`, { model: 'moonshot-v1-8k', messages })
    const chat = await (await post(`${emu.moonshotUrl}/chat/completions`, { model: 'moonshot-v1-8k', messages })).json()
    expect(await res.json()).toEqual({ data: { total_tokens: chat.usage.prompt_tokens } })
  })

  it('answers errors as {error:{type,message}}', async () => {
    const unauth = await post(`${emu.moonshotUrl}/chat/completions`, { model: 'moonshot-v1-8k', messages }, { authorization: 'Bearer sk-invalid-x' })
    expect(unauth.status).toBe(401)
    expect(await unauth.json()).toEqual({ error: { type: 'invalid_authentication_error', message: 'Invalid Authentication' } })
    const unknown = await post(`${emu.moonshotUrl}/chat/completions`, { model: 'qwen-plus', messages })
    expect(unknown.status).toBe(404)
    expect((await unknown.json()).error.type).toBe('resource_not_found_error')
    const broken = await post(`${emu.moonshotUrl}/chat/completions`, '{"model":')
    expect(broken.status).toBe(400)
    expect((await broken.json()).error.type).toBe('invalid_request_error')
  })

  it('lists only the Moonshot models', async () => {
    const body = await (await get(`${emu.moonshotUrl}/models`)).json()
    const ids = body.data.map((m: { id: string }) => m.id)
    expect(ids).toEqual(['moonshot-v1-8k', 'moonshot-v1-32k', 'moonshot-v1-128k', 'moonshot-v1-8k-vision-preview', 'kimi-k2-0905-preview', 'kimi-k2-turbo-preview', 'kimi-k2-thinking'])
  })
})
