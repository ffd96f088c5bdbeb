import * as undici from 'undici'
import { describe, expect, it } from 'vitest'
import { Agent, buildConnector, dispatchRequest } from './undici'

describe('the undici files loaded on their own', () => {
  it('are the objects the package index exports', async () => {
    expect(Agent).toBe(undici.Agent)
    expect(buildConnector).toBe(undici.buildConnector)
    // The index copies the request API onto Dispatcher.prototype; it must be the same function.
    const calls: unknown[] = []
    const recorder = { dispatch: (opts: unknown) => (calls.push(opts), true) }
    void dispatchRequest(recorder as unknown as undici.Dispatcher, { origin: 'http://127.0.0.1:9', path: '/x', method: 'GET' })
    expect(calls).toHaveLength(1)
    const { default: request } = await import('undici/lib/api/api-request.js')
    const prototype = undici.Dispatcher.prototype as unknown as Record<string, unknown>
    expect(prototype.request).toBeTypeOf('function')
    expect(prototype.request).toBe(request)
  })
})
