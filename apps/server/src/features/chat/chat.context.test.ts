import { describe, expect, it } from 'vitest'
import type { MessageRow } from './chat.repo'
import { buildContext, tokenBudget } from './chat.context'

let seq = 0
function row(role: 'user' | 'assistant', content: string, extra: Partial<MessageRow> = {}): MessageRow {
  const at = new Date(Date.UTC(2026, 0, 1, 0, 0, seq++)).toISOString()
  return {
    id: `m${seq}`,
    conversationId: 'c',
    userId: 'u',
    parentId: null,
    role,
    content,
    parts: null,
    reasoning: null,
    model: null,
    status: 'complete',
    promptTokens: null,
    completionTokens: null,
    cost: null,
    errorCode: null,
    errorMessage: null,
    apiCallId: null,
    createdAt: at,
    updatedAt: at,
    ...extra,
  }
}
const noImages = async (): Promise<{ mime: string; bytes: Uint8Array }> => {
  throw new Error('no images here')
}
const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`).join(' ')

describe('buildContext', () => {
  it('sends the system prompt first, then the branch; skips failed empty answers, keeps interrupted text', async () => {
    const ctx = await buildContext({
      systemPrompt: 'Be brief.',
      path: [
        row('user', 'q1'),
        row('assistant', '', { status: 'error', errorCode: 'UPSTREAM_UNAVAILABLE' }),
        row('user', 'q2'),
        row('assistant', 'half an ans', { status: 'interrupted' }),
        row('user', 'q3'),
      ],
      vision: false,
      contextWindow: 8_192,
      maxOutputTokens: 1_024,
      readImage: noImages,
    })
    expect(ctx.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'q1' },
      { role: 'user', content: 'q2' },
      { role: 'assistant', content: 'half an ans' },
      { role: 'user', content: 'q3' },
    ])
    expect(ctx.dropped).toBe(0)
  })

  it('drops the oldest turns until the estimate fits, starting again on a user message', async () => {
    const path = [row('user', words(50)), row('assistant', words(50)), row('user', words(50)), row('assistant', words(50)), row('user', 'last')]
    const ctx = await buildContext({ systemPrompt: 'sys', path, vision: false, contextWindow: 240, maxOutputTokens: 100, readImage: noImages })
    expect(tokenBudget(240, 100)).toBe(140)
    expect(ctx.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user'])
    expect(ctx.messages.at(-1)!.content).toBe('last')
    expect(ctx.dropped).toBe(2)
    expect(ctx.promptEstimate).toBeLessThanOrEqual(140)
  })

  it('always keeps the system prompt and the new message, even when they alone are too long', async () => {
    const ctx = await buildContext({ systemPrompt: words(100), path: [row('user', 'a'), row('assistant', 'b'), row('user', words(100))], vision: false, contextWindow: 100, maxOutputTokens: 10, readImage: noImages })
    expect(ctx.messages.map((m) => m.role)).toEqual(['system', 'user'])
  })

  it('turns image parts into data URIs for vision models only', async () => {
    const parts = JSON.stringify([{ type: 'image', fileId: 'f1', url: '/api/files/f1/content', mime: 'image/png' }])
    const path = [row('user', 'what is this?', { parts })]
    const readImage = async () => ({ mime: 'image/png', bytes: new Uint8Array([1, 2, 3]) })
    const vision = await buildContext({ systemPrompt: null, path, vision: true, contextWindow: 8_192, maxOutputTokens: null, readImage })
    expect(vision.messages).toEqual([{ role: 'user', content: [{ type: 'image_url', url: 'data:image/png;base64,AQID' }, { type: 'text', text: 'what is this?' }] }])
    const text = await buildContext({ systemPrompt: null, path, vision: false, contextWindow: 8_192, maxOutputTokens: null, readImage })
    expect(text.messages).toEqual([{ role: 'user', content: 'what is this?' }])
  })
})
