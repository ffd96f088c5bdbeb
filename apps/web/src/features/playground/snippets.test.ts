import { describe, expect, it } from 'vitest'
import { curlSnippet, nodeSnippet, parseSseText, pythonSnippet, type PlaygroundRequest } from './snippets'

const req: PlaygroundRequest = { baseUrl: 'https://qiao.example/v1', model: 'qwen-plus', messages: [{ role: 'user', content: "it's 桥" }], stream: false }

describe('playground snippets', () => {
  it('read the key from the environment and never embed one', () => {
    for (const s of [curlSnippet(req), pythonSnippet(req), nodeSnippet(req)]) {
      expect(s).toContain('QIAO_API_KEY')
      expect(s).not.toMatch(/sk-qiao-/)
      expect(s).toContain('https://qiao.example/v1')
    }
  })

  it('quotes shell arguments so a quote in the message cannot break out', () => {
    const curl = curlSnippet(req)
    expect(curl).toContain(`'{"model":"qwen-plus","messages":[{"role":"user","content":"it'\\''s 桥"}]}'`)
  })

  it('asks for usage when streaming', () => {
    expect(curlSnippet({ ...req, stream: true })).toContain('"include_usage":true')
    expect(pythonSnippet({ ...req, stream: true })).toContain('stream=True')
    expect(nodeSnippet({ ...req, stream: true })).toContain('stream: true')
  })
})

describe('parseSseText', () => {
  it('parses data frames, skips comments, keeps the unfinished rest', () => {
    const text = ': ping\n\ndata: {"choices":[{"delta":{"content":"Hi"}}]}\n\ndata: [DONE]\n\ndata: {"cho'
    const { items, rest } = parseSseText(text)
    expect(items).toEqual([{ chunk: { choices: [{ delta: { content: 'Hi' } }] } }, { done: true }])
    expect(rest).toBe('data: {"cho')
  })

  it('surfaces an error frame', () => {
    expect(parseSseText('data: {"error":{"message":"boom","code":"upstream_timeout"}}\n\n').items).toEqual([{ error: { message: 'boom', code: 'upstream_timeout' } }])
  })
})
