/**
 * Wanx text-to-image through DashScope's native async task API: submit with
 * `X-DashScope-Async: enable`, then poll `GET /api/v1/tasks/{id}` until a terminal state. A task
 * can fail whole (FAILED, still HTTP 200) or in part (SUCCEEDED with some results carrying
 * `code`/`message` instead of `url`).
 */
import { setTimeout as sleepTimer } from 'node:timers/promises'
import { joinUrl, requestJson, scrubError, scrubSecret, type ErrorMapper } from '../http'
import { isObject, str } from '../openai-compatible/normalize'
import { ProviderError, type ImageRequest, type ImageTaskResult, type ImageTaskStatus, type ProviderAdapter, type UpstreamContext } from '../types'

export const IMAGE_SYNTHESIS_PATH = '/api/v1/services/aigc/text2image/image-synthesis'

const STATUS: Record<string, ImageTaskStatus> = {
  PENDING: 'pending',
  RUNNING: 'running',
  // A suspended task is queued again by the upstream; to us it is still waiting.
  SUSPENDED: 'pending',
  SUCCEEDED: 'succeeded',
  FAILED: 'failed',
  CANCELED: 'canceled',
  UNKNOWN: 'unknown',
}

/** A task id goes into a URL path: accept only the characters DashScope ids are made of. */
const TASK_ID = /^[A-Za-z0-9_-]{1,128}$/

export function buildImageBody(req: ImageRequest): Record<string, unknown> {
  const input: Record<string, unknown> = { prompt: req.prompt }
  if (req.negativePrompt !== undefined) input.negative_prompt = req.negativePrompt
  const parameters: Record<string, unknown> = {}
  if (req.size !== undefined) parameters.size = req.size
  if (req.n !== undefined) parameters.n = req.n
  if (req.seed !== undefined) parameters.seed = req.seed
  return { model: req.model, input, parameters }
}

/** A create or poll answer → ImageTaskResult. Upstream text is scrubbed of the key. */
export function parseImageTask(json: unknown, apiKey: string): ImageTaskResult {
  if (!isObject(json) || !isObject(json.output)) throw new ProviderError('upstream_unavailable', 'Upstream sent an unexpected image task response')
  const output = json.output
  const taskId = str(output.task_id)
  if (!taskId) throw new ProviderError('upstream_unavailable', 'Upstream image task response has no task id')
  const status = STATUS[str(output.task_status) ?? 'UNKNOWN'] ?? 'unknown'
  const clean = (s: string | undefined): string => scrubSecret(s ?? '', apiKey)
  const images: ImageTaskResult['images'] = []
  if (Array.isArray(output.results)) {
    for (const r of output.results as unknown[]) {
      if (!isObject(r)) continue
      const url = str(r.url)
      if (url) images.push({ url })
      else images.push({ error: { code: str(r.code) ?? 'Failed', message: clean(str(r.message)) } })
    }
  }
  const result: ImageTaskResult = { taskId, status, images }
  if (status === 'failed' || str(output.code)) {
    if (status === 'failed' || status === 'canceled' || status === 'unknown') {
      result.error = { code: str(output.code) ?? (status === 'failed' ? 'Failed' : status), message: clean(str(output.message)) }
    }
  }
  if (isObject(json.usage) && typeof json.usage.image_count === 'number') result.imageCount = json.usage.image_count
  const requestId = str(json.request_id)
  if (requestId) result.upstreamRequestId = requestId
  return result
}

export function createImageTaskFn(host: (ctx: UpstreamContext) => string, mapError: ErrorMapper): NonNullable<ProviderAdapter['createImageTask']> {
  return async (req, ctx) => {
    try {
      const { json } = await requestJson(
        {
          method: 'POST',
          url: joinUrl(host(ctx), IMAGE_SYNTHESIS_PATH),
          headers: { 'x-dashscope-async': 'enable' },
          body: buildImageBody(req),
          // Submitting twice would start (and bill) two tasks.
          idempotent: false,
          mapError,
        },
        ctx,
      )
      return parseImageTask(json, ctx.apiKey)
    } catch (err) {
      throw err instanceof ProviderError ? scrubError(err, ctx.apiKey) : err
    }
  }
}

export function getImageTaskFn(host: (ctx: UpstreamContext) => string, mapError: ErrorMapper): NonNullable<ProviderAdapter['getImageTask']> {
  return async (taskId, ctx) => {
    if (!TASK_ID.test(taskId)) throw new ProviderError('bad_request', 'Invalid image task id')
    try {
      const { json } = await requestJson({ method: 'GET', url: joinUrl(host(ctx), `/api/v1/tasks/${taskId}`), mapError }, ctx)
      return parseImageTask(json, ctx.apiKey)
    } catch (err) {
      throw err instanceof ProviderError ? scrubError(err, ctx.apiKey) : err
    }
  }
}

const TERMINAL = new Set<ImageTaskStatus>(['succeeded', 'failed', 'canceled', 'unknown'])

export interface WaitOptions {
  /** Give up (ProviderError 'timeout') after this long. */
  timeoutMs: number
  /** Injectable for tests; must reject when the signal aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
}

async function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  await sleepTimer(ms, undefined, signal ? { signal } : undefined)
}

/**
 * Polls until the task reaches a terminal state. The interval starts at 1 s and grows by a second
 * per poll up to 5 s (the SDK's pace; the upstream allows 20 polls per second per account, shared
 * by everyone). Transient poll failures are polled through; others are thrown.
 */
export async function waitForImageTask(adapter: ProviderAdapter, taskId: string, ctx: UpstreamContext, opts: WaitOptions): Promise<ImageTaskResult> {
  if (!adapter.getImageTask) throw new ProviderError('bad_request', `Provider ${adapter.kind} has no image tasks`)
  const sleep = opts.sleep ?? defaultSleep
  const started = Date.now()
  let slept = 0
  let delay = 1_000
  for (;;) {
    try {
      const result = await adapter.getImageTask(taskId, ctx)
      if (TERMINAL.has(result.status)) return result
    } catch (err) {
      if (!(err instanceof ProviderError) || !err.retryable) throw err
    }
    // With an injected sleep no wall time passes; count the planned waits as elapsed time too.
    const elapsed = Math.max(Date.now() - started, slept)
    if (elapsed + delay > opts.timeoutMs) throw new ProviderError('timeout', 'The image task did not finish in time')
    await sleep(delay, ctx.signal)
    slept += delay
    delay = Math.min(5_000, delay + 1_000)
  }
}
