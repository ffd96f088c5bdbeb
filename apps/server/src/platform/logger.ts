import type { FastifyBaseLogger } from 'fastify'
import pino, { type Bindings, type ChildLoggerOptions, type Logger, type LoggerOptions } from 'pino'

/**
 * Paths redacted from every log line. Secrets must never reach logs (SECURITY.md J3): request
 * headers that carry credentials, bodies that carry passwords or keys, and upstream auth headers.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.Authorization',
  '*.password',
  '*.currentPassword',
  '*.newPassword',
  '*.refreshToken',
  '*.accessToken',
  '*.secret',
  '*.apiKey',
  '*.key',
]

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: 'qiao' },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: {
      // Log the path without the query string: query strings may carry tokens.
      req: (req: { method: string; url: string; id: string }) => ({ id: req.id, method: req.method, path: req.url.split('?')[0] }),
      err: pino.stdSerializers.err,
    },
  }
  return destination ? pino(options, destination) : pino(options)
}

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'
type ParentLogger = FastifyBaseLogger & { isLevelEnabled?: (level: string) => boolean }

/**
 * A request's logger that makes its pino child only when a line is written. Fastify makes a child
 * logger for every request, yet at the production level (`warn`) almost no request logs, and a
 * pino child costs microseconds (bindings serialised, every level method re-bound). Lines come out
 * exactly as the child would have written them.
 */
class LazyChildLogger implements FastifyBaseLogger {
  private real: FastifyBaseLogger | undefined

  constructor(
    private readonly parent: ParentLogger,
    private readonly bindings: Bindings,
  ) {}

  private actual(): FastifyBaseLogger {
    return (this.real ??= this.parent.child(this.bindings))
  }

  private write(level: Level, args: unknown[]): void {
    const current = (this.real ?? this.parent) as ParentLogger
    if (current.isLevelEnabled && !current.isLevelEnabled(level)) return
    const logger = this.actual()
    const line: (this: FastifyBaseLogger, ...parts: unknown[]) => void = logger[level]
    line.apply(logger, args)
  }

  get level(): string {
    return (this.real ?? this.parent).level
  }

  set level(level: string) {
    this.actual().level = level
  }

  fatal(...args: unknown[]): void {
    this.write('fatal', args)
  }

  error(...args: unknown[]): void {
    this.write('error', args)
  }

  warn(...args: unknown[]): void {
    this.write('warn', args)
  }

  info(...args: unknown[]): void {
    this.write('info', args)
  }

  debug(...args: unknown[]): void {
    this.write('debug', args)
  }

  trace(...args: unknown[]): void {
    this.write('trace', args)
  }

  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.actual().child(bindings, options)
  }
}

/**
 * Fastify's `childLoggerFactory`: the lazy child above, or pino's own when the route asks for a
 * log level or serializers of its own.
 */
export function requestLogger(parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  for (const key in options) if (Object.hasOwn(options, key)) return parent.child(bindings, options)
  return new LazyChildLogger(parent, bindings)
}
