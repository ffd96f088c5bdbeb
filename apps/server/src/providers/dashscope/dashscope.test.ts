import { describe, expect, it } from 'vitest'
import { collect, deliver, DELIVERIES, fixture, sseEvents, withLineEnds } from '../fixtures/helpers'
import { guardStream } from '../openai-compatible/normalize'
import { buildChatBody } from '../openai-compatible/factory'
import { ProviderError, type ChatEvent, type ChatRequest, type UpstreamContext } from '../types'
import { mapDashScopeError } from './errors'
import { buildImageBody, parseImageTask, waitForImageTask } from './images'
import { dashScopeAdapter, dashScopeCompat, dashScopeHost } from './index'
import { buildNativeBody, nativeResponseEvents, normalizeNativeStream } from './native'

const ctx: UpstreamContext = { baseUrl: 'https://dashscope.aliyuncs.com', apiKey: 'sk-unit' }

function nativeRun(text: string, incremental: boolean, how: (typeof DELIVERIES)[number] = 'whole'): Promise<ChatEvent[]> {
  return collect(guardStream(normalizeNativeStream(sseEvents(deliver(text, how)), { model: 'qwen-plus', incremental, mapError: mapDashScopeError }), 'sk-unit'))
}

describe('DashScope native stream', () => {
  describe.each(DELIVERIES)('delivered %s', (how) => {
    it.each([
      ['native-incremental.sse', true],
      ['native-non-incremental.sse', false],
    ] as const)('turns %s into deltas with the last cumulative usage', async (name, incremental) => {
      const events = await nativeRun(withLineEnds(fixture(name), 'crlf'), incremental, how)
      expect(events).toEqual([
        { type: 'start', id: '5354a793-0ed4-9b4c-8a10-6b1f8d4c2e01', model: 'qwen-plus', upstreamRequestId: '5354a793-0ed4-9b4c-8a10-6b1f8d4c2e01' },
        { type: 'text', delta: '我' },
        { type: 'text', delta: '是通义' },
        { type: 'text', delta: '千问。' },
        { type: 'usage', inputTokens: 22, outputTokens: 17, cachedTokens: 16 },
        { type: 'done', finishReason: 'stop' },
      ])
    })
  })

  it('maps a mid-stream event:error to content_filtered after the first token', async () => {
    const seen: ChatEvent[] = []
    const error = await (async () => {
      try {
        for await (const ev of guardStream(normalizeNativeStream(sseEvents(deliver(fixture('native-error.sse'), 'byte-by-byte')), { model: 'qwen-plus', incremental: true, mapError: mapDashScopeError }), 'k')) seen.push(ev)
      } catch (err) {
        return err as ProviderError
      }
      throw new Error('expected failure')
    })()
    expect(error).toBeInstanceOf(ProviderError)
    expect(error.kind).toBe('content_filtered')
    expect(error.info).toMatchObject({ upstreamCode: 'DataInspectionFailed', upstreamRequestId: '5354a793-0ed4-9b4c-8a10-6b1f8d4c2e01', afterFirstToken: true })
    expect(seen.map((e) => e.type)).toEqual(['start', 'text'])
  })

  it('treats a native stream without a final finish reason as cut', async () => {
    const full = fixture('native-incremental.sse')
    const cut = full.slice(0, full.indexOf('id:3'))
    await expect(nativeRun(cut, true)).rejects.toMatchObject({ kind: 'upstream_unavailable', info: { afterFirstToken: true } })
  })

  it('reads a non-streaming native answer, including the legacy text format', () => {
    expect(
      nativeResponseEvents(
        { output: { choices: [{ finish_reason: 'stop', message: { role: 'assistant', content: 'I am Qwen…', reasoning_content: 'r' } }] }, usage: { input_tokens: 22, output_tokens: 17, total_tokens: 39, output_tokens_details: { reasoning_tokens: 4 } }, request_id: 'req-1' },
        { model: 'qwen-plus', mapError: mapDashScopeError },
      ),
    ).toEqual([
      { type: 'start', id: 'req-1', model: 'qwen-plus', upstreamRequestId: 'req-1' },
      { type: 'reasoning', delta: 'r' },
      { type: 'text', delta: 'I am Qwen…' },
      { type: 'usage', inputTokens: 22, outputTokens: 17, reasoningTokens: 4 },
      { type: 'done', finishReason: 'stop' },
    ])
    const legacy = nativeResponseEvents({ output: { text: 'hi', finish_reason: 'length' }, usage: { input_tokens: 1, output_tokens: 1 } }, { model: 'qwen-plus', mapError: mapDashScopeError })
    expect(legacy.slice(1).map((e) => e.type)).toEqual(['text', 'usage', 'done'])
    expect(legacy.at(-1)).toEqual({ type: 'done', finishReason: 'length' })
  })
})

describe('DashScope error mapping', () => {
  const cases: Array<[string, number, string]> = [
    ['{"code":"DataInspectionFailed","message":"Input data may contain inappropriate content.","request_id":"r"}', 400, 'content_filtered'],
    ['{"error":{"message":"Input data may contain inappropriate content.","type":"data_inspection_failed","param":null,"code":"data_inspection_failed"}}', 400, 'content_filtered'],
    ['{"code":"Throttling.RateQuota","message":"Requests rate limit exceeded, please try again later.","request_id":"r"}', 429, 'rate_limited'],
    ['{"error":{"message":"You exceeded your current requests list.","type":"limit_requests","param":null,"code":"limit_requests"}}', 429, 'rate_limited'],
    ['{"error":{"message":"Request rate increased too quickly.","type":"limit_burst_rate","code":"limit_burst_rate"}}', 429, 'rate_limited'],
    ['{"code":"Throttling.AllocationQuota","message":"Allocated quota exceeded, please increase your quota limit.","request_id":"r"}', 429, 'rate_limited'],
    ['{"error":{"message":"Free allocated quota exceeded.","type":"insufficient_quota","code":"insufficient_quota"}}', 429, 'quota_exceeded'],
    ['{"code":"Throttling.AllocationQuota","message":"Free allocated quota exceeded.","request_id":"r"}', 429, 'quota_exceeded'],
    ['{"code":"InvalidApiKey","message":"Invalid API-key provided.","request_id":"r"}', 401, 'auth_failed'],
    ['{"error":{"message":"Incorrect API key provided. ","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}', 401, 'auth_failed'],
    ['{"code":"AccessDenied.Unpurchased","message":"Access to model denied.","request_id":"r"}', 403, 'auth_failed'],
    ['{"code":"AccessDenied","message":"current user api does not support synchronous calls","request_id":"r"}', 403, 'auth_failed'],
    ['{"error":{"code":"Arrearage","param":null,"message":"Access denied, please make sure your account is in good standing.","type":"Arrearage"}}', 400, 'quota_exceeded'],
    ['{"code":"ModelNotFound","message":"Model not found (qwen-nope)!","request_id":"r"}', 404, 'not_found'],
    ['{"error":{"message":"The model `x` does not exist","type":"invalid_request_error","code":"model_not_found"}}', 404, 'not_found'],
    ['{"error":{"message":"model_not_supported","type":"invalid_request_error","code":"model_not_supported"}}', 400, 'not_found'],
    ['{"code":"InvalidParameter","message":"Range of max_tokens should be [1, 8192]","request_id":"r"}', 400, 'bad_request'],
    ['{"code":"InvalidParameter.NotSupportEnableThinking","message":"…","request_id":"r"}', 400, 'bad_request'],
    ['{"code":"ModelServingError","message":"Too many requests. Your requests are being throttled due to system capacity limits.","request_id":"r"}', 503, 'upstream_unavailable'],
    ['{"code":"InternalError","message":"An internal error has occured","request_id":"r"}', 500, 'upstream_unavailable'],
    ['{"code":"RequestTimeOut","message":"Request timed out, please try again later.","request_id":"r"}', 500, 'timeout'],
    ['<html>Gateway Timeout</html>', 504, 'timeout'],
    ['<html>bad gateway</html>', 502, 'upstream_unavailable'],
    ['', 401, 'auth_failed'],
  ]
  it.each(cases)('%s (HTTP %i) → %s', (body, status, kind) => {
    const err = mapDashScopeError({ status, body })
    expect(err.kind).toBe(kind)
    expect(err.info.status).toBe(status)
  })

  it('keeps the native request id and the code', () => {
    const err = mapDashScopeError({ status: 401, body: '{"code":"InvalidApiKey","message":"Invalid API-key provided.","request_id":"01415ff3-53f4"}' })
    expect(err.info).toMatchObject({ upstreamCode: 'InvalidApiKey', upstreamRequestId: '01415ff3-53f4' })
    expect(err.message).toBe('Upstream error 401 InvalidApiKey: Invalid API-key provided.')
  })

  it('accepts msg in place of message', () => {
    expect(mapDashScopeError({ status: 400, body: '{"code":"InvalidParameter","msg":"bad"}' }).message).toContain('bad')
  })
})

describe('DashScope request building', () => {
  const base: ChatRequest = { model: 'qwen-plus', messages: [{ role: 'user', content: 'hi' }] }

  it('finds the host root whatever the admin pasted', () => {
    expect(dashScopeHost('https://dashscope.aliyuncs.com')).toBe('https://dashscope.aliyuncs.com')
    expect(dashScopeHost('https://dashscope.aliyuncs.com/')).toBe('https://dashscope.aliyuncs.com')
    expect(dashScopeHost('https://dashscope-intl.aliyuncs.com/compatible-mode/v1/')).toBe('https://dashscope-intl.aliyuncs.com')
    expect(dashScopeHost('https://dashscope.aliyuncs.com/api/v1')).toBe('https://dashscope.aliyuncs.com')
  })

  it('sends enable_thinking, the channel thinking budget and include_usage', () => {
    const body = buildChatBody(dashScopeCompat.spec, { ...base, thinking: true, maxTokens: 100 }, { ...ctx, options: { thinkingBudget: 500 } }, true)
    expect(body).toMatchObject({ model: 'qwen-plus', stream: true, stream_options: { include_usage: true }, enable_thinking: true, thinking_budget: 500, max_tokens: 100 })
    expect(buildChatBody(dashScopeCompat.spec, { ...base, thinking: false }, ctx, true)).toMatchObject({ enable_thinking: false })
    expect(buildChatBody(dashScopeCompat.spec, base, ctx, false)).not.toHaveProperty('enable_thinking')
    expect(buildChatBody(dashScopeCompat.spec, base, ctx, false)).not.toHaveProperty('stream_options')
  })

  it('streams upstream for a thinking request even when the caller wants one answer', () => {
    expect(dashScopeCompat.spec.mustStream?.({ ...base, stream: false, thinking: true })).toBe(true)
    expect(dashScopeCompat.spec.mustStream?.({ ...base, stream: false })).toBe(false)
  })

  it('turns image parts (URLs and data URIs) into OpenAI image_url parts', () => {
    const body = buildChatBody(
      dashScopeCompat.spec,
      {
        model: 'qwen-vl-max',
        messages: [
          {
            role: 'user',
            content: [
              { type: 'image_url', url: 'https://example.com/cat.jpg' },
              { type: 'image_url', url: 'data:image/png;base64,iVBORw0KGgo=' },
              { type: 'text', text: '这是什么？' },
            ],
          },
        ],
      },
      ctx,
      true,
    )
    expect(body.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
          { type: 'text', text: '这是什么？' },
        ],
      },
    ])
  })

  it('passes tools, tool_choice and response_format through, and does not send reasoning back', () => {
    const tools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }]
    const body = buildChatBody(
      dashScopeCompat.spec,
      {
        ...base,
        tools,
        toolChoice: 'auto',
        responseFormat: { type: 'json_object' },
        messages: [
          { role: 'assistant', content: '', reasoningContent: 'r', toolCalls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
          { role: 'tool', content: '42', toolCallId: 'call_1' },
        ],
      },
      ctx,
      true,
    )
    expect(body).toMatchObject({ tools, tool_choice: 'auto', response_format: { type: 'json_object' } })
    expect(body.messages).toEqual([
      { role: 'assistant', content: '', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
      { role: 'tool', content: '42', tool_call_id: 'call_1' },
    ])
  })

  it('builds the native body with messages inside input and knobs inside parameters', () => {
    expect(buildNativeBody({ ...base, temperature: 0.5, thinking: true }, ctx, true, true)).toEqual({
      model: 'qwen-plus',
      input: { messages: [{ role: 'user', content: 'hi' }] },
      parameters: { result_format: 'message', incremental_output: true, temperature: 0.5, enable_thinking: true },
    })
  })

  it('builds the Wanx body', () => {
    expect(buildImageBody({ model: 'wanx2.1-t2i-turbo', prompt: '雪中红狐', negativePrompt: 'blurry', size: '1024*1024', n: 2, seed: 1 })).toEqual({
      model: 'wanx2.1-t2i-turbo',
      input: { prompt: '雪中红狐', negative_prompt: 'blurry' },
      parameters: { size: '1024*1024', n: 2, seed: 1 },
    })
  })

  it('refuses a task id that is not an id before any request', async () => {
    await expect(dashScopeAdapter.getImageTask!('../services/x', ctx)).rejects.toMatchObject({ kind: 'bad_request' })
  })
})

describe('DashScope image tasks', () => {
  it.each([
    ['PENDING', 'pending'],
    ['RUNNING', 'running'],
    ['SUSPENDED', 'pending'],
    ['SUCCEEDED', 'succeeded'],
    ['FAILED', 'failed'],
    ['CANCELED', 'canceled'],
    ['UNKNOWN', 'unknown'],
    ['SOMETHING_NEW', 'unknown'],
  ])('maps %s to %s', (upstream, ours) => {
    expect(parseImageTask({ request_id: 'r', output: { task_id: 't1', task_status: upstream } }, 'k').status).toBe(ours)
  })

  it('reports partial failures per image and the billed count', () => {
    const result = parseImageTask(
      {
        request_id: 'r2',
        output: {
          task_id: 't1',
          task_status: 'SUCCEEDED',
          results: [{ url: 'https://oss.example/a.png?Expires=1' }, { code: 'DataInspectionFailed', message: 'Output data may contain inappropriate content.' }],
          task_metrics: { TOTAL: 2, SUCCEEDED: 1, FAILED: 1 },
        },
        usage: { image_count: 1 },
      },
      'k',
    )
    expect(result).toEqual({
      taskId: 't1',
      status: 'succeeded',
      images: [{ url: 'https://oss.example/a.png?Expires=1' }, { error: { code: 'DataInspectionFailed', message: 'Output data may contain inappropriate content.' } }],
      imageCount: 1,
      upstreamRequestId: 'r2',
    })
  })

  it('reports a whole-task failure', () => {
    const result = parseImageTask({ output: { task_id: 't1', task_status: 'FAILED', code: 'InvalidParameter', message: 'prompt too long' } }, 'k')
    expect(result.error).toEqual({ code: 'InvalidParameter', message: 'prompt too long' })
  })

  it('polls with a delay growing from 1 s to 5 s until a terminal state', async () => {
    const statuses = ['PENDING', 'RUNNING', 'RUNNING', 'RUNNING', 'RUNNING', 'RUNNING', 'SUCCEEDED']
    const adapter = {
      kind: 'dashscope' as const,
      chat: (r: ChatRequest, c: UpstreamContext) => dashScopeAdapter.chat(r, c),
      getImageTask: async (taskId: string) => parseImageTask({ output: { task_id: taskId, task_status: statuses.shift() } }, 'k'),
    }
    const delays: number[] = []
    const result = await waitForImageTask(adapter, 't1', ctx, { timeoutMs: 60_000, sleep: async (ms) => void delays.push(ms) })
    expect(result.status).toBe('succeeded')
    expect(delays).toEqual([1000, 2000, 3000, 4000, 5000, 5000])
  })

  it('gives up with a timeout when the task never ends, and polls through transient errors', async () => {
    let polls = 0
    const adapter = {
      kind: 'dashscope' as const,
      chat: (r: ChatRequest, c: UpstreamContext) => dashScopeAdapter.chat(r, c),
      getImageTask: async (taskId: string) => {
        polls++
        if (polls === 2) throw new ProviderError('upstream_unavailable', 'blip')
        return parseImageTask({ output: { task_id: taskId, task_status: 'RUNNING' } }, 'k')
      },
    }
    await expect(waitForImageTask(adapter, 't1', ctx, { timeoutMs: 10_000, sleep: async () => {} })).rejects.toMatchObject({ kind: 'timeout' })
    // Polls at 0, 1, 3, 6 and 10 s; the next one (15 s) would pass the limit.
    expect(polls).toBe(5)
  })

  it('stops polling on a permanent error', async () => {
    const adapter = {
      kind: 'dashscope' as const,
      chat: (r: ChatRequest, c: UpstreamContext) => dashScopeAdapter.chat(r, c),
      getImageTask: async (): Promise<never> => {
        throw new ProviderError('auth_failed', 'nope')
      },
    }
    await expect(waitForImageTask(adapter, 't1', ctx, { timeoutMs: 10_000, sleep: async () => {} })).rejects.toMatchObject({ kind: 'auth_failed' })
  })
})
