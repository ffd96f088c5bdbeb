import { describe, expect, it } from 'vitest'
import type { UpstreamFailure } from '../http'
import { classifyOpenAIError, createErrorMapper } from './errors'

const map = createErrorMapper(classifyOpenAIError)
const failure = (status: number, body: string): UpstreamFailure => ({ status, body })

describe('OpenAI-compatible error mapping', () => {
  it('treats 401 and 403 as auth failures whatever code the body carries', () => {
    // An imitation server answering 401 with a generic server code must still disable the key.
    expect(map(failure(401, '{"error":{"message":"nope","type":"server_error","code":"server_error"}}')).kind).toBe('auth_failed')
    expect(map(failure(403, '{"error":{"message":"denied","type":"rate_limit_error"}}')).kind).toBe('auth_failed')
    expect(map(failure(401, 'not json')).kind).toBe('auth_failed')
  })

  it('keeps quota and moderation codes sent with 403', () => {
    expect(map(failure(403, '{"error":{"message":"no money","code":"insufficient_quota"}}')).kind).toBe('quota_exceeded')
    expect(map(failure(403, '{"error":{"message":"blocked","code":"content_policy_violation"}}')).kind).toBe('content_filtered')
  })

  it('maps by code first for other statuses, then by status', () => {
    expect(map(failure(400, '{"error":{"message":"too long","code":"context_length_exceeded"}}')).kind).toBe('bad_request')
    expect(map(failure(429, '{"error":{"message":"slow down","code":"rate_limit_exceeded"}}')).kind).toBe('rate_limited')
    expect(map(failure(502, '<html>bad gateway</html>')).kind).toBe('upstream_unavailable')
  })
})
