/**
 * Scripted upstream faults. A test arms a fault for the next `times` matching requests; each
 * request consumes a fault only at the point where it applies (a stream fault is never used up
 * by a non-streaming request), so `times` counts the requests actually affected.
 */

export type Fault =
  /** Error body in the endpoint's own protocol shape, with a sensible default code per status. */
  | { type: 'http_error'; status: number; code?: string; message?: string; retryAfterSeconds?: number }
  /** Hold the whole response (status and headers too) this long. */
  | { type: 'slow_first_byte'; delayMs: number }
  /** Stop sending data events after N of them for delayMs (optionally with `: keep-alive` comments), then continue. */
  | { type: 'stall'; afterChunks: number; delayMs: number; keepAliveEveryMs?: number }
  /** Destroy the socket after N data events: no terminator. */
  | { type: 'cut'; afterChunks: number }
  /** Send one `data: {not json` event after N data events, then continue. */
  | { type: 'malformed_chunk'; afterChunks: number }
  /** Moderation: `input` rejects before streaming (400); `output` fails mid-stream. Default input. */
  | { type: 'content_filter'; stage?: 'input' | 'output' }
  /** The next created image task ends FAILED (HTTP 200, output.code/message). */
  | { type: 'image_task_failed'; code?: string; message?: string }
  /** The next created image task succeeds with its last `failed` results carrying {code,message}. */
  | { type: 'image_partial_failure'; failed: number }
  /** Reset the connection before any response byte. */
  | { type: 'connection_reset' }
  /** Write these exact bytes (e.g. `event: execute\ndata: <script>…\n\n`) after N data events, then continue: a hostile upstream. */
  | { type: 'raw_event'; afterChunks: number; raw: string }

export type FaultType = Fault['type']
export type FaultOf<T extends FaultType> = Extract<Fault, { type: T }>

export interface FaultScope {
  /** Default 1. */
  times?: number
  /** Only requests whose path starts with this string (or matches this expression). */
  path?: string | RegExp
}

interface Armed {
  fault: Fault
  remaining: number
  path?: string | RegExp
}

export const FAULT_TYPES: readonly FaultType[] = [
  'http_error',
  'slow_first_byte',
  'stall',
  'cut',
  'malformed_chunk',
  'content_filter',
  'image_task_failed',
  'image_partial_failure',
  'connection_reset',
  'raw_event',
]

export class FaultBook {
  private armed: Armed[] = []

  inject(fault: Fault, scope: FaultScope = {}): void {
    const times = scope.times ?? 1
    if (!Number.isInteger(times) || times < 1) throw new RangeError('times must be a positive integer')
    this.armed.push({ fault, remaining: times, ...(scope.path === undefined ? {} : { path: scope.path }) })
  }

  clear(): void {
    this.armed = []
  }

  /** Consumes and returns the oldest armed fault of this type that matches the path. */
  take<T extends FaultType>(path: string, type: T): FaultOf<T> | undefined {
    const index = this.armed.findIndex((a) => a.fault.type === type && pathMatches(a.path, path))
    if (index < 0) return undefined
    const armed = this.armed[index]!
    armed.remaining--
    if (armed.remaining === 0) this.armed.splice(index, 1)
    return armed.fault as FaultOf<T>
  }
}

function pathMatches(scope: string | RegExp | undefined, path: string): boolean {
  if (scope === undefined) return true
  if (typeof scope === 'string') return path.startsWith(scope)
  scope.lastIndex = 0
  return scope.test(path)
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0
const optional = (v: unknown, check: (x: unknown) => boolean): boolean => v === undefined || check(v)
const isString = (v: unknown): boolean => typeof v === 'string'

/** Validates a fault received as JSON by the control endpoint; returns an error message or the fault. */
export function parseFault(raw: unknown): Fault | string {
  if (typeof raw !== 'object' || raw === null) return 'fault must be an object'
  const f = raw as Record<string, unknown>
  switch (f.type) {
    case 'http_error':
      if (!isCount(f.status) || f.status < 400 || f.status > 599) return 'http_error.status must be 400..599'
      if (!optional(f.code, isString) || !optional(f.message, isString) || !optional(f.retryAfterSeconds, isCount)) return 'bad http_error fields'
      break
    case 'slow_first_byte':
      if (!isCount(f.delayMs)) return 'slow_first_byte.delayMs must be a non-negative integer'
      break
    case 'stall':
      if (!isCount(f.afterChunks) || !isCount(f.delayMs) || !optional(f.keepAliveEveryMs, isCount)) return 'bad stall fields'
      break
    case 'cut':
    case 'malformed_chunk':
      if (!isCount(f.afterChunks)) return `${f.type}.afterChunks must be a non-negative integer`
      break
    case 'content_filter':
      if (!optional(f.stage, (s) => s === 'input' || s === 'output')) return 'content_filter.stage must be input or output'
      break
    case 'image_task_failed':
      if (!optional(f.code, isString) || !optional(f.message, isString)) return 'bad image_task_failed fields'
      break
    case 'image_partial_failure':
      if (!isCount(f.failed) || f.failed < 1) return 'image_partial_failure.failed must be a positive integer'
      break
    case 'connection_reset':
      break
    case 'raw_event':
      if (!isCount(f.afterChunks) || typeof f.raw !== 'string') return 'raw_event needs afterChunks and a raw string'
      break
    default:
      return `unknown fault type; expected one of ${FAULT_TYPES.join(', ')}`
  }
  return f as Fault
}
