import { describe, expect, it } from 'vitest'
import { joinUrl, kindFromStatus, parseRetryAfter, scrubSecret } from './http'
import { classifyOpenAIError, createErrorMapper, parseUpstreamError } from './openai-compatible/errors'

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T00:00:00Z')
  it('reads delta-seconds', () => {
    expect(parseRetryAfter('2', now)).toBe(2000)
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000)
    expect(parseRetryAfter('0.5', now)).toBe(500)
  })
  it('reads an HTTP date, and a past date as zero', () => {
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000)
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now)).toBe(0)
  })
  it('ignores absent or garbage values', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined()
    expect(parseRetryAfter('', now)).toBeUndefined()
    expect(parseRetryAfter('soon', now)).toBeUndefined()
    expect(parseRetryAfter('-5', now)).toBeUndefined()
    expect(parseRetryAfter(['3', '9'], now)).toBe(3000)
  })
})

describe('scrubSecret', () => {
  it('removes the key and masked key shapes', () => {
    const key = 'sk-abcdef1234567890'
    expect(scrubSecret(`bad key ${key}!`, key)).toBe('bad key [redacted]!')
    expect(scrubSecret('Incorrect API key provided: sk-abc***7890.', key)).toBe('Incorrect API key provided: [redacted].')
    expect(scrubSecret('nothing here', key)).toBe('nothing here')
  })
})

describe('joinUrl', () => {
  it('puts exactly one slash between base and path', () => {
    expect(joinUrl('https://h/v1/', '/chat/completions')).toBe('https://h/v1/chat/completions')
    expect(joinUrl('https://h/v1', 'embeddings')).toBe('https://h/v1/embeddings')
    expect(joinUrl('https://h/v1', '/chat/completions')).toBe('https://h/v1/chat/completions')
    expect(joinUrl('https://h/v1//', '//chat')).toBe('https://h/v1/chat')
    expect(joinUrl('https://h/v1', '//chat')).toBe('https://h/v1/chat')
  })
})

describe('status fallback and the generic OpenAI table', () => {
  it.each([
    [401, 'auth_failed'],
    [403, 'auth_failed'],
    [404, 'not_found'],
    [408, 'timeout'],
    [504, 'timeout'],
    [429, 'rate_limited'],
    [500, 'upstream_unavailable'],
    [422, 'bad_request'],
  ] as const)('HTTP %i → %s', (status, kind) => {
    expect(kindFromStatus(status)).toBe(kind)
  })

  const map = createErrorMapper(classifyOpenAIError)
  it.each([
    [429, { error: { message: 'You exceeded your current quota', type: 'insufficient_quota', code: 'insufficient_quota' } }, 'quota_exceeded'],
    [429, { error: { message: 'Rate limit', type: 'requests', code: 'rate_limit_exceeded' } }, 'rate_limited'],
    [401, { error: { message: 'Incorrect API key', type: 'invalid_request_error', code: 'invalid_api_key' } }, 'auth_failed'],
    [400, { error: { message: 'too long', type: 'invalid_request_error', code: 'context_length_exceeded' } }, 'bad_request'],
    [400, { error: { message: 'policy', type: 'invalid_request_error', code: 'content_policy_violation' } }, 'content_filtered'],
    [404, { error: { message: 'nope', type: 'invalid_request_error', code: 'model_not_found' } }, 'not_found'],
    [503, { error: 'Service Unavailable' }, 'upstream_unavailable'],
  ])('HTTP %i %j → %s', (status, body, kind) => {
    expect(map({ status, body: JSON.stringify(body) }).kind).toBe(kind)
  })

  it('bounds and flattens upstream text', () => {
    const err = map({ status: 400, body: JSON.stringify({ error: { message: `line1\nline2 ${'x'.repeat(1000)}` } }) })
    expect(err.message).not.toContain('\n')
    expect(err.message.length).toBeLessThan(400)
  })

  it('parses every known error shape', () => {
    expect(parseUpstreamError('{"code":"InvalidApiKey","msg":"m","request_id":"r"}')).toEqual({ code: 'InvalidApiKey', message: 'm', requestId: 'r' })
    expect(parseUpstreamError('{"error":{"message":"m","type":"t","code":"c","param":null},"request_id":"r"}')).toEqual({ code: 'c', type: 't', message: 'm', requestId: 'r' })
    expect(parseUpstreamError('<html>')).toEqual({})
    expect(parseUpstreamError('[1]')).toEqual({})
  })
})
