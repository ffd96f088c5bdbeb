import pino, { type Logger, type LoggerOptions } from 'pino'

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
