/**
 * `npm run emulator`: the emulator as a standalone server, for trying the adapters by hand or
 * pointing a local Qiao at it. Port from EMULATOR_PORT (default 4010).
 */
import { startEmulator } from './index'

const port = Number(process.env.EMULATOR_PORT ?? 4010)
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`EMULATOR_PORT must be a port number, got ${process.env.EMULATOR_PORT}`)
  process.exit(1)
}

const emulator = await startEmulator({ port, host: process.env.EMULATOR_HOST ?? '127.0.0.1' })
console.log(`Qiao protocol emulator listening on ${emulator.url}
  DashScope compatible mode: ${emulator.url}/compatible-mode/v1
  DashScope native:          ${emulator.url}/api/v1
  Moonshot:                  ${emulator.moonshotUrl}
  Faults:                    POST/DELETE ${emulator.url}/__emulator/faults, health: GET ${emulator.url}/__emulator/health
Any key starting with "sk-" authenticates (except "sk-invalid…").`)

const stop = () => {
  emulator.close().then(
    () => process.exit(0),
    () => process.exit(1),
  )
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
