import { Writable } from 'node:stream'
import { describe, expect, it, vi } from 'vitest'
import { createLogger, requestLogger } from './logger'

/** A logger writing JSON lines into an array. */
function capture(level: string) {
  const lines: Array<Record<string, unknown>> = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>)
      done()
    },
  })
  return { logger: createLogger(level, sink), lines }
}

describe('request loggers', () => {
  it('write the same lines as a pino child, bindings and redaction included', async () => {
    const { logger, lines } = capture('info')
    const log = requestLogger(logger, { reqId: 'req-1' }, {})
    log.info({ headers: { authorization: 'Bearer sk-secret' } }, 'incoming %s', 'request')
    log.debug('not at this level')
    log.error(new Error('boom'))
    await new Promise((r) => setImmediate(r))
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatchObject({ reqId: 'req-1', service: 'qiao', msg: 'incoming request', headers: { authorization: '[redacted]' } })
    expect(lines[1]).toMatchObject({ reqId: 'req-1', level: 50, err: { message: 'boom' } })
  })

  it('make no pino child for a request that logs nothing at the enabled level', () => {
    const { logger } = capture('warn')
    const child = vi.spyOn(logger, 'child')
    const log = requestLogger(logger, { reqId: 'req-2' }, {})
    log.info('incoming request')
    log.debug('details')
    expect(child).not.toHaveBeenCalled()
    expect(log.level).toBe('warn')
    log.warn('now it logs')
    expect(child).toHaveBeenCalledTimes(1)
  })

  it('use a real child when the route sets its own level', () => {
    const { logger } = capture('warn')
    const log = requestLogger(logger, { reqId: 'req-3' }, { level: 'debug' })
    expect(log.level).toBe('debug')
  })

  it('honour a level raised on the request logger itself', async () => {
    const { logger, lines } = capture('warn')
    const log = requestLogger(logger, { reqId: 'req-4' }, {})
    log.level = 'info'
    log.info('visible now')
    await new Promise((r) => setImmediate(r))
    expect(lines.map((l) => l.msg)).toEqual(['visible now'])
    expect(logger.level).toBe('warn')
  })
})
