/**
 * The parts of undici Qiao uses (Agent, buildConnector and the request API), loaded from their own
 * files rather than through the package's index. The index loads all of undici: fetch, WebSocket,
 * EventSource, the cache stores, mocks, proxy agents and interceptors, ~110 modules where the
 * gateway needs 25. The rest cost ~3 MB of heap for as long as the process runs
 * (bench/README.md).
 *
 * undici has no `exports` map, so these files are importable. undici.test.ts checks that they are
 * the very objects the package's index exports, so an upgrade that moves them fails the tests
 * rather than production. Types come from the package itself.
 */
import type { Agent as AgentClass, buildConnector as buildConnectorFn, Dispatcher } from 'undici'
import AgentImpl from 'undici/lib/dispatcher/agent.js'
import buildConnectorImpl from 'undici/lib/core/connect.js'
import requestImpl from 'undici/lib/api/api-request.js'

export const Agent: typeof AgentClass = AgentImpl
export const buildConnector: typeof buildConnectorFn = buildConnectorImpl

/**
 * undici's request API applied to a dispatcher, which may be any object with `dispatch` (the SSRF
 * guard, a test's recorder): what undici's own top-level `request(url, { dispatcher })` does,
 * minus parsing a URL on every call.
 */
export function dispatchRequest(dispatcher: Dispatcher, options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> {
  return requestImpl.call(dispatcher, options)
}
