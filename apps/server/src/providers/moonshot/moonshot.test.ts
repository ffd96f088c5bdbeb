import { describe, expect, it } from 'vitest'
import { buildChatBody } from '../openai-compatible/factory'
import type { ChatRequest } from '../types'
import { mapMoonshotError } from './errors'
import { moonshotAdapter } from './index'

const ctx = { baseUrl: 'https://api.moonshot.cn/v1', apiKey: 'sk-unit' }

describe('Moonshot error mapping', () => {
  it.each([
    [400, 'content_filter', 'content_filtered'],
    [400, 'invalid_request_error', 'bad_request'],
    [401, 'invalid_authentication_error', 'auth_failed'],
    [401, 'incorrect_api_key_error', 'auth_failed'],
    [403, 'permission_denied_error', 'auth_failed'],
    [429, 'exceeded_current_quota_error', 'quota_exceeded'],
    [403, 'exceeded_current_quota_error', 'quota_exceeded'],
    [429, 'rate_limit_reached_error', 'rate_limited'],
    [429, 'engine_overloaded_error', 'rate_limited'],
    [404, 'resource_not_found_error', 'not_found'],
    [500, 'server_error', 'upstream_unavailable'],
    [502, 'something_new', 'upstream_unavailable'],
    [418, 'something_new', 'bad_request'],
  ])('HTTP %i %s → %s', (status, type, kind) => {
    const err = mapMoonshotError({ status, body: JSON.stringify({ error: { type, message: 'm' } }) })
    expect(err.kind).toBe(kind)
    expect(err.info.upstreamCode).toBe(type)
  })

  it('a quota error is not retryable, an overload is', () => {
    expect(mapMoonshotError({ status: 429, body: '{"error":{"type":"exceeded_current_quota_error","message":"m"}}' }).retryable).toBe(false)
    expect(mapMoonshotError({ status: 429, body: '{"error":{"type":"engine_overloaded_error","message":"m"}}' }).retryable).toBe(true)
  })
})

describe('Moonshot request building', () => {
  const base: ChatRequest = { model: 'kimi-k2.5', messages: [{ role: 'user', content: 'hi' }] }

  it('switches thinking only on models that take the switch', () => {
    expect(buildChatBody(moonshotAdapter.spec, { ...base, thinking: true }, ctx, true)).toMatchObject({ thinking: { type: 'enabled' } })
    expect(buildChatBody(moonshotAdapter.spec, { ...base, model: 'kimi-k2.6', thinking: false }, ctx, true)).toMatchObject({ thinking: { type: 'disabled' } })
    expect(buildChatBody(moonshotAdapter.spec, base, ctx, true)).not.toHaveProperty('thinking')
    for (const model of ['moonshot-v1-8k', 'kimi-k2-0905-preview', 'kimi-k2-thinking']) {
      expect(buildChatBody(moonshotAdapter.spec, { ...base, model, thinking: true }, ctx, true)).not.toHaveProperty('thinking')
    }
  })

  it('never sends enable_thinking (a DashScope field)', () => {
    expect(buildChatBody(moonshotAdapter.spec, { ...base, thinking: true }, ctx, true)).not.toHaveProperty('enable_thinking')
  })

  it('sends earlier reasoning back on assistant turns only', () => {
    const body = buildChatBody(
      moonshotAdapter.spec,
      {
        ...base,
        messages: [
          { role: 'user', content: 'q', reasoningContent: 'ignored' },
          { role: 'assistant', content: 'a', reasoningContent: 'thought' },
        ],
      },
      ctx,
      true,
    )
    expect(body.messages).toEqual([
      { role: 'user', content: 'q' },
      { role: 'assistant', content: 'a', reasoning_content: 'thought' },
    ])
  })
})
