import { constants, PerformanceObserver, type PerformanceObserverEntryList } from 'node:perf_hooks'
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8'

/**
 * V8 settings for a small resident set, applied by main.ts before the server's modules load, so
 * `npm start`, the benchmark and production all run with them.
 *
 * Node reads heap-size flags such as `--max-semi-space-size` only when the process starts, and a
 * process cannot restart itself with flags without a second process. These are read by V8 while it
 * runs, so they take effect when set here:
 *
 * - `--heap-growing-percent=30`: after a full collection the old generation may grow by 30 % over
 *   what is live before the next one, instead of up to 4x (V8's default on large machines).
 * - the young generation: V8 doubles each semi-space from 1 MB up to 16 MB while objects survive
 *   (32 MB of RSS kept for good after the first busy second, idle or not). Here it stays at 1 MB
 *   (growth factor 1) while the server boots, and after that until it is busy: BUSY_SCAVENGES
 *   scavenges in a row, each less than BUSY_SCAVENGE_GAP_MS after the last. Then the factor is
 *   whatever takes the semi-space to YOUNG_SEMI_SPACE_MB in one step, and 1 again once it is
 *   there. Boot, sign-ups and light traffic no longer leave 16 MB of young generation committed
 *   in an idle process.
 * - `--gc-memory-reducer-start-delay-ms=1000`: V8's memory reducer (memory-reducing collections
 *   once allocation has gone quiet, which also shrink the young generation back to 1 MB) looks
 *   for quiet 1 s after a full collection instead of 8 s.
 * - `--liftoff-only`: undici's HTTP parser (llhttp, WebAssembly) stays on V8's baseline compiler.
 *   Its optimizing tier-up takes ~35 MB of compiler memory at once, ~10 MB of which the allocator
 *   keeps; parsing upstream answers is under 1 % of the gateway's CPU.
 *
 * Measured with bench/run.mjs (--quick, SQLite, 32 connections, 5 paired runs): RSS idle ~122 →
 * ~107 MB, peak ~197 → ~134 MB; garbage collection ~5 % → ~8 % of the main thread's busy time,
 * CPU per proxied request ~+5 % (+0.005 to +0.027 ms on ~0.29 ms). A 6 MB semi-space gave a peak
 * of ~127 MB for ~+12 % CPU; without --liftoff-only the peak is ~11 MB higher. Keeping the young
 * generation small until the server is busy took the idle RSS after boot and seeding from ~105
 * to ~94 MB; the earlier memory reducer takes it to ~90 MB a few seconds later.
 * An operator who passes V8 heap flags on the command line or in NODE_OPTIONS gets exactly those
 * instead. (NODE_OPTIONS is Node's own variable, read here because this runs before config.ts.)
 */
export const YOUNG_SEMI_SPACE_MB = 8
/** BUSY_SCAVENGES scavenges in a row, each within BUSY_SCAVENGE_GAP_MS of the last, mean a busy process. */
const BUSY_SCAVENGE_GAP_MS = 100
const BUSY_SCAVENGES = 4
const MB = 1024 * 1024

const FLAGS = ['--heap-growing-percent=30', '--liftoff-only', '--gc-memory-reducer-start-delay-ms=1000']
const OPERATOR_FLAG = /--(max|min)-semi-space-size|--semi-space-growth-factor|--max-old-space-size|--max-heap-size|--heap-growing-percent|--optimize-for-size|--gc-memory-reducer/

/** Applies the settings; call the returned function once the server listens. */
export function tuneHeap(): () => void {
  const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ')
  if (OPERATOR_FLAG.test(given)) return () => undefined
  for (const flag of FLAGS) setFlagsFromString(flag)
  return capYoungGeneration(YOUNG_SEMI_SPACE_MB * MB)
}

function capYoungGeneration(semiSpace: number): () => void {
  let factor = 1
  let serving = false
  let lastScavenge = Number.NEGATIVE_INFINITY
  let closeInARow = 0
  setFlagsFromString('--semi-space-growth-factor=1')
  const setFactor = (next: number) => {
    if (next === factor) return
    factor = next
    setFlagsFromString(`--semi-space-growth-factor=${next}`)
  }
  const adjust = (entries: PerformanceObserverEntryList) => {
    // Busy: scavenges keep coming close together (~10 MB/s of allocation or more). Only then may
    // V8 grow the young generation, so boot, sign-ups and light traffic stay on V8's initial 1 MB.
    for (const entry of entries.getEntries()) {
      if (!serving) break
      if ((entry as { detail?: { kind?: number } }).detail?.kind !== constants.NODE_PERFORMANCE_GC_MINOR) continue
      closeInARow = entry.startTime - lastScavenge < BUSY_SCAVENGE_GAP_MS ? closeInARow + 1 : 0
      lastScavenge = entry.startTime
    }
    const busy = closeInARow >= BUSY_SCAVENGES - 1
    // The new space is two semi-spaces; V8 may also shrink it again when allocation is slow.
    const current = (getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0) / 2
    setFactor(!busy || current >= semiSpace || current === 0 ? 1 : Math.max(2, Math.ceil(semiSpace / current)))
  }
  new PerformanceObserver(adjust).observe({ entryTypes: ['gc'] })
  // Booting (module loading, migrations) is a burst of garbage, not a sign of load to come.
  return () => {
    serving = true
  }
}
