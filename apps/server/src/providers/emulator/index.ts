/**
 * The protocol emulator: a local HTTP server that speaks DashScope (compatible mode and native)
 * and Moonshot closely enough for our adapters, with deterministic answers, honest token counts
 * and scriptable faults. Tests start one per suite; `npm start` without provider keys runs one
 * as the offline upstream; `npm run emulator` runs it alone (main.ts).
 */
import { setMaxListeners } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { COMPAT_PREFIX, handleCompat } from './dashscope-compat'
import { handleNative, NATIVE_PREFIX } from './dashscope-native'
import { Exchange, type EmulatorSettings, type RecordedRequest } from './exchange'
import { FaultBook, parseFault, type Fault, type FaultScope } from './faults'
import { FILES_PREFIX, ImageTasks } from './image-tasks'
import { EMULATOR_MODELS } from './models'
import { handleMoonshot, MOONSHOT_PREFIX } from './moonshot'
import { kindForStatus, Reject, type Protocol } from './protocol-errors'

export type { Fault, FaultScope } from './faults'
export type { RecordedRequest } from './exchange'
export { EMULATOR_MODELS, findEmulatorModel, type EmulatorModel } from './models'
export { countTokens, countPromptTokens, imageTokens, MESSAGE_OVERHEAD_TOKENS } from './tokenizer'

export interface EmulatorOptions {
  /** Default 0 (a random free port). */
  port?: number
  /** Default 127.0.0.1. */
  host?: string
  /** Keys that authenticate; default: any key starting with 'sk-' except those starting with 'sk-invalid'. */
  validKeys?: string[]
  /** Polls an image task spends PENDING/RUNNING before finishing; default 2. */
  taskPolls?: number
  /** Pause between two stream events, so that aborts can land mid-stream; default 5 ms. */
  chunkDelayMs?: number
  /** Largest request body accepted; default 20 MB (larger → 413). */
  maxBodyBytes?: number
  /** `requests` keeps at most this many (dropping the oldest), so a long-running demo does not grow; default 10 000. */
  maxRecordedRequests?: number
}

export interface Emulator {
  /** 'http://127.0.0.1:PORT': the DashScope host root (compatible: `${url}/compatible-mode/v1`, native: `${url}/api/v1`). */
  readonly url: string
  /** `${url}/moonshot/v1`: the Moonshot base including /v1. */
  readonly moonshotUrl: string
  /** Every request to a provider endpoint or result file, oldest first (control routes excluded; capped by maxRecordedRequests). */
  readonly requests: RecordedRequest[]
  inject(fault: Fault, opts?: FaultScope): void
  clearFaults(): void
  close(): Promise<void>
}

const CONTROL_PREFIX = '/__emulator/'

function protocolOf(path: string): Protocol | undefined {
  if (path.startsWith(`${COMPAT_PREFIX}/`)) return 'compat'
  if (path.startsWith(`${NATIVE_PREFIX}/`)) return 'native'
  if (path.startsWith(`${MOONSHOT_PREFIX}/`)) return 'moonshot'
  if (path.startsWith(FILES_PREFIX)) return 'oss'
  return undefined
}

/** Reads the body up to `limit` bytes; undefined when it is larger. */
async function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  let tooLarge = false
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > limit) tooLarge = true
    else chunks.push(chunk)
  }
  return tooLarge ? undefined : Buffer.concat(chunks).toString('utf8')
}

export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const faults = new FaultBook()
  const requests: RecordedRequest[] = []
  const shutdown = new AbortController()
  // Every open exchange listens for shutdown; many concurrent streams are normal, not a leak.
  setMaxListeners(0, shutdown.signal)
  const tasks = new ImageTasks(opts.taskPolls ?? 2)
  const validKeys = opts.validKeys ? new Set(opts.validKeys) : undefined
  const settings: EmulatorSettings = {
    chunkDelayMs: opts.chunkDelayMs ?? 5,
    taskPolls: opts.taskPolls ?? 2,
    isValidKey: (key) => (validKeys ? validKeys.has(key) : key.startsWith('sk-') && !key.startsWith('sk-invalid')),
  }
  const maxBodyBytes = opts.maxBodyBytes ?? 20 * 1024 * 1024
  const maxRecorded = opts.maxRecordedRequests ?? 10_000
  let baseUrl = ''

  async function control(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const reply = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(value))
    }
    if (req.method === 'GET' && path === '/__emulator/health') {
      return reply(200, { ok: true, url: baseUrl, moonshotUrl: `${baseUrl}${MOONSHOT_PREFIX}`, models: EMULATOR_MODELS.map((m) => m.id) })
    }
    if (path === '/__emulator/faults' && req.method === 'DELETE') {
      faults.clear()
      return reply(200, { ok: true })
    }
    if (path === '/__emulator/faults' && req.method === 'POST') {
      let parsed: unknown
      try {
        parsed = JSON.parse((await readBody(req, 64 * 1024)) ?? '')
      } catch {
        parsed = undefined
      }
      if (typeof parsed !== 'object' || parsed === null) return reply(400, { error: 'body must be JSON {fault, times?, path?, pathPattern?}' })
      const raw = parsed as Record<string, unknown>
      const fault = parseFault(raw.fault)
      if (typeof fault === 'string') return reply(400, { error: fault })
      const times = raw.times ?? 1
      if (typeof times !== 'number' || !Number.isInteger(times) || times < 1) return reply(400, { error: 'times must be a positive integer' })
      let scope: string | RegExp | undefined
      try {
        // `path` is a prefix; `pathPattern` a regular expression (JSON has no RegExp).
        scope = typeof raw.pathPattern === 'string' ? new RegExp(raw.pathPattern) : typeof raw.path === 'string' ? raw.path : undefined
      } catch {
        return reply(400, { error: 'pathPattern is not a valid regular expression' })
      }
      faults.inject(fault, { times, ...(scope === undefined ? {} : { path: scope }) })
      return reply(200, { ok: true })
    }
    reply(404, { error: 'unknown emulator control route' })
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator.invalid')
    const path = url.pathname
    if (path.startsWith(CONTROL_PREFIX) && !path.startsWith(FILES_PREFIX)) return control(req, res, path)
    const body = await readBody(req, maxBodyBytes)
    const record: RecordedRequest = { method: req.method ?? 'GET', path, url: url.pathname + url.search, headers: { ...req.headers }, body: body ?? '', aborted: false }
    requests.push(record)
    if (requests.length > maxRecorded) requests.splice(0, requests.length - maxRecorded)
    const protocol = protocolOf(path) ?? 'native'
    const x = new Exchange(req, res, url, body ?? '', protocol, record, faults, settings, baseUrl, shutdown.signal)
    try {
      if (x.take('connection_reset')) return x.resetConnection()
      const slow = x.take('slow_first_byte')
      if (slow) await x.wait(slow.delayMs)
      const injected = x.take('http_error')
      if (injected) {
        const headers: Record<string, string> = injected.retryAfterSeconds === undefined ? {} : { 'retry-after': String(injected.retryAfterSeconds) }
        return x.reject(new Reject(kindForStatus(injected.status), injected.message, injected.status, injected.code), headers)
      }
      if (body === undefined) throw new Reject('too_large')
      if (protocol === 'oss') return tasks.serveFile(x)
      if (protocolOf(path) === undefined) throw new Reject('url_not_found')
      const key = x.bearer()
      if (!key || !settings.isValidKey(key)) throw new Reject('invalid_api_key')
      switch (protocol) {
        case 'compat':
          return await handleCompat(x)
        case 'native':
          return await handleNative(x, tasks)
        case 'moonshot':
          return await handleMoonshot(x)
      }
    } catch (err) {
      if (err instanceof Reject) return x.reject(err)
      // A bug in the emulator: answer like an upstream 500 and keep serving.
      console.error('[emulator] unexpected error', err)
      if (!res.headersSent) return x.reject(new Reject('internal'))
      res.destroy()
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      console.error('[emulator] request failed', err)
      res.destroy()
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  baseUrl = `http://${host}:${address.port}`

  return {
    url: baseUrl,
    moonshotUrl: `${baseUrl}${MOONSHOT_PREFIX}`,
    requests,
    inject: (fault, scope) => faults.inject(fault, scope),
    clearFaults: () => faults.clear(),
    close: async () => {
      shutdown.abort()
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    },
  }
}
