/**
 * Wanx text-to-image as an async task API (protocols/README.md §4): create with
 * `X-DashScope-Async: enable`, poll `GET /tasks/{id}` through PENDING → RUNNING → SUCCEEDED or
 * FAILED, cancel while PENDING. Result URLs point at real PNGs the emulator draws, served under
 * `/__emulator/files/` with an `Expires` parameter like signed OSS links.
 */
import { createHash, randomUUID } from 'node:crypto'
import { resolveModel } from './chat-core'
import type { Exchange } from './exchange'
import { drawPng, type DrawSpec } from './images'
import { findEmulatorModel } from './models'
import { Reject } from './protocol-errors'
import { containsCjk } from './tokenizer'

type TaskStatus = 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELED'

interface Task {
  id: string
  /** The API key that created it: other keys see UNKNOWN, as another account would. */
  owner: string
  model: string
  prompt: string
  actualPrompt?: string
  n: number
  width: number
  height: number
  seed: number
  polls: number
  status: TaskStatus
  submitTime: number
  scheduledTime?: number
  endTime?: number
  failure?: { code: string; message: string }
  /** How many of the last results fail (partial failure). */
  failedResults: number
  /** Unix seconds after which result URLs stop working. */
  expires?: number
}

/** Task ids and result links live this long, as on DashScope. */
const RETENTION_MS = 24 * 60 * 60 * 1000
const SIZE_RANGE = { min: 512, max: 1440 }
const WANX_V1_STYLES = ['<auto>', '<photography>', '<portrait>', '<3d cartoon>', '<anime>', '<oil painting>', '<watercolor>', '<sketch>', '<chinese painting>', '<flat illustration>']
export const FILES_PREFIX = '/__emulator/files/'

/** DashScope's task timestamps: Beijing time, `YYYY-MM-DD HH:mm:ss.SSS`. */
function beijingTime(ms: number): string {
  return new Date(ms + 8 * 3600_000).toISOString().replace('T', ' ').slice(0, 23)
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {}
}

export class ImageTasks {
  private readonly tasks = new Map<string, Task>()
  private readonly pngCache = new Map<string, Buffer>()

  constructor(private readonly taskPolls: number) {}

  create(x: Exchange): void {
    if (x.header('x-dashscope-async')?.toLowerCase() !== 'enable') throw new Reject('access_denied', 'current user api does not support synchronous calls')
    const body = x.jsonBody()
    if (!body) throw new Reject('invalid_parameter', 'The request body is not valid JSON.')
    const model = resolveModel('dashscope', body.model, 'image', findEmulatorModel)
    const input = record(body.input)
    const params = record(body.parameters)
    const prompt = input.prompt
    if (typeof prompt !== 'string' || prompt.trim().length === 0) throw new Reject('invalid_parameter', 'Field required: input.prompt')
    if ([...prompt].length > (model.maxPromptChars ?? 500)) throw new Reject('invalid_parameter', `The length of input.prompt must not exceed ${model.maxPromptChars ?? 500} characters.`)
    if (input.negative_prompt !== undefined && (typeof input.negative_prompt !== 'string' || [...input.negative_prompt].length > 500)) {
      throw new Reject('invalid_parameter', 'input.negative_prompt must be a string of at most 500 characters.')
    }
    const size = /^(\d{1,5})\*(\d{1,5})$/.exec(typeof params.size === 'string' ? params.size : params.size === undefined ? '1024*1024' : '')
    const width = Number(size?.[1])
    const height = Number(size?.[2])
    if (!size || [width, height].some((side) => side < SIZE_RANGE.min || side > SIZE_RANGE.max)) {
      throw new Reject('invalid_parameter', `parameters.size must be "W*H" with each side in [${SIZE_RANGE.min}, ${SIZE_RANGE.max}].`)
    }
    const n = params.n ?? 4
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 4) throw new Reject('invalid_parameter', 'parameters.n must be an integer in [1, 4].')
    const seed = params.seed ?? createHash('sha256').update(prompt).digest().readUInt32LE(0) % 2147483648
    if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > 2147483647) throw new Reject('invalid_parameter', 'parameters.seed must be an integer in [0, 2147483647].')
    if (model.id === 'wanx-v1' && params.style !== undefined && !WANX_V1_STYLES.includes(params.style as string)) {
      throw new Reject('invalid_parameter', `parameters.style must be one of ${WANX_V1_STYLES.join(', ')}.`)
    }

    const filter = x.take('content_filter')
    if (filter && filter.stage !== 'output') throw new Reject('data_inspection_input')
    const failed = x.take('image_task_failed')
    const partial = x.take('image_partial_failure')

    this.prune()
    const task: Task = {
      id: randomUUID(),
      owner: x.bearer() ?? '',
      model: model.id,
      prompt,
      n,
      width,
      height,
      seed,
      polls: 0,
      status: 'PENDING',
      submitTime: Date.now(),
      failedResults: partial ? Math.min(partial.failed, n) : 0,
    }
    // Only the 2.x models rewrite prompts (prompt_extend, on by default).
    if (model.id !== 'wanx-v1' && params.prompt_extend !== false) task.actualPrompt = containsCjk(prompt) ? `${prompt}，细节丰富，高清` : `${prompt}, highly detailed, sharp focus`
    if (filter) task.failure = { code: 'DataInspectionFailed', message: 'Output data may contain inappropriate content.' }
    else if (failed) task.failure = { code: failed.code ?? 'InternalError.Algo', message: failed.message ?? 'Algorithm process error, please try again later.' }
    this.tasks.set(task.id, task)
    x.json(200, { output: { task_status: 'PENDING', task_id: task.id }, request_id: x.requestId })
  }

  query(x: Exchange, id: string): void {
    const task = this.visible(x, id)
    if (!task) return x.json(200, { request_id: x.requestId, output: { task_id: id, task_status: 'UNKNOWN' } })
    this.advance(task)
    const out: Record<string, unknown> = { task_id: task.id, task_status: task.status, submit_time: beijingTime(task.submitTime) }
    if (task.scheduledTime !== undefined) out.scheduled_time = beijingTime(task.scheduledTime)
    if (task.endTime !== undefined) out.end_time = beijingTime(task.endTime)
    const body: Record<string, unknown> = { request_id: x.requestId, output: out }
    switch (task.status) {
      case 'PENDING':
      case 'RUNNING':
        out.task_metrics = { TOTAL: task.n, SUCCEEDED: 0, FAILED: 0 }
        break
      case 'FAILED':
        out.code = task.failure!.code
        out.message = task.failure!.message
        out.task_metrics = { TOTAL: task.n, SUCCEEDED: 0, FAILED: task.n }
        break
      case 'SUCCEEDED': {
        const ok = task.n - task.failedResults
        out.results = Array.from({ length: task.n }, (_, i) => {
          if (i >= ok) return { code: 'DataInspectionFailed', message: 'Output data may contain inappropriate content.' }
          const url = `${x.baseUrl}${FILES_PREFIX}${task.id}-${i}.png?Expires=${task.expires}`
          return task.actualPrompt === undefined ? { url } : { orig_prompt: task.prompt, actual_prompt: task.actualPrompt, url }
        })
        out.task_metrics = { TOTAL: task.n, SUCCEEDED: ok, FAILED: task.failedResults }
        body.usage = { image_count: ok }
        break
      }
      case 'CANCELED':
        break
    }
    x.json(200, body)
  }

  cancel(x: Exchange, id: string): void {
    const task = this.visible(x, id)
    if (!task || task.status !== 'PENDING') throw new Reject('unsupported_operation', 'Failed to cancel the task, please confirm if the task is in PENDING status.')
    task.status = 'CANCELED'
    task.endTime = Date.now()
    x.json(200, { request_id: x.requestId })
  }

  /** `GET /__emulator/files/<task>-<index>.png?Expires=<unix>`: no key needed, as with OSS links. */
  serveFile(x: Exchange): void {
    const name = /^([0-9a-f-]{36})-(\d)\.png$/.exec(x.path.slice(FILES_PREFIX.length))
    const task = name ? this.tasks.get(name[1]!) : undefined
    const index = Number(name?.[2])
    if (!task || task.status !== 'SUCCEEDED' || index >= task.n - task.failedResults) throw new Reject('url_not_found', 'The specified key does not exist.', 404, 'NoSuchKey')
    const expires = Number(x.url.searchParams.get('Expires'))
    if (expires !== task.expires || expires * 1000 < Date.now()) throw new Reject('access_denied', 'Request has expired.')
    const key = `${task.id}-${index}`
    let png = this.pngCache.get(key)
    if (!png) {
      const spec: DrawSpec = { prompt: task.prompt, seed: task.seed, index, width: task.width, height: task.height }
      png = drawPng(spec)
      // A small cache: tests fetch each image once or twice; the demo must not grow without bound.
      if (this.pngCache.size >= 16) this.pngCache.delete(this.pngCache.keys().next().value!)
      this.pngCache.set(key, png)
    }
    x.send(200, 'image/png', png, { 'cache-control': 'private, max-age=86400' })
  }

  private visible(x: Exchange, id: string): Task | undefined {
    const task = this.tasks.get(id)
    return task && task.owner === (x.bearer() ?? '') ? task : undefined
  }

  /** One poll's worth of progress: poll 1 PENDING, polls 2..taskPolls RUNNING, then the end. */
  private advance(task: Task): void {
    if (task.status !== 'PENDING' && task.status !== 'RUNNING') return
    task.polls++
    const now = Date.now()
    if (task.polls > this.taskPolls) {
      task.scheduledTime ??= now
      task.endTime = now
      task.status = task.failure ? 'FAILED' : 'SUCCEEDED'
      task.expires = Math.floor(now / 1000) + RETENTION_MS / 1000
    } else if (task.polls >= 2) {
      task.scheduledTime ??= now
      task.status = 'RUNNING'
    }
  }

  private prune(): void {
    const cutoff = Date.now() - RETENTION_MS
    for (const [id, task] of this.tasks) if (task.submitTime < cutoff) this.tasks.delete(id)
  }
}
