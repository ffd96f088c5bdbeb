/**
 * The protocol emulator as the benchmark's upstream: no pause between stream chunks, so what is
 * measured is the gateway, not a simulated model. Prints `{"url": …}` on its first stdout line.
 */
import { startEmulator } from '../apps/server/src/providers/emulator/index.ts'

const emulator = await startEmulator({ port: 0, chunkDelayMs: 0, maxRecordedRequests: 100 })
console.log(JSON.stringify({ url: emulator.url }))

const stop = () => {
  emulator.close().then(
    () => process.exit(0),
    () => process.exit(1),
  )
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
