/**
 * The parts of undici Qiao uses (Agent and buildConnector), loaded from their own files rather than
 * through the package's index. The index loads all of undici: fetch, WebSocket, EventSource, the
 * cache stores, mocks, proxy agents and interceptors, ~110 modules where the gateway needs ~20. The
 * rest cost ~3 MB of heap for as long as the process runs (bench/README.md). Requests go through
 * `Dispatcher.dispatch` with a handler of our own (providers/http.ts), so not even the request API
 * and its body stream are loaded.
 *
 * undici has no `exports` map, so these files are importable. undici.test.ts checks that they are
 * the very objects the package's index exports, so an upgrade that moves them fails the tests
 * rather than production. Types come from the package itself.
 */
import type { Agent as AgentClass, buildConnector as buildConnectorFn } from 'undici'
import AgentImpl from 'undici/lib/dispatcher/agent.js'
import buildConnectorImpl from 'undici/lib/core/connect.js'

export const Agent: typeof AgentClass = AgentImpl
export const buildConnector: typeof buildConnectorFn = buildConnectorImpl
