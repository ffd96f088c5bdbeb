import { PerformanceObserver } from 'node:perf_hooks'
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
 *   (32 MB of RSS kept for good after the first busy second, idle or not). Here it grows to
 *   YOUNG_SEMI_SPACE_MB and stops: the growth factor is 1 while the modules load (nothing can
 *   step in during that synchronous burst) and, from the first event-loop turn, whatever takes
 *   the semi-space to its target in one step, re-checked after every collection.
 * - `--liftoff-only`: undici's HTTP parser (llhttp, WebAssembly) stays on V8's baseline compiler.
 *   Its optimizing tier-up takes ~35 MB of compiler memory at once, ~10 MB of which the allocator
 *   keeps; parsing upstream answers is under 1 % of the gateway's CPU.
 *
 * Measured with bench/run.mjs (--quick, SQLite, 32 connections, 5 paired runs): RSS idle ~122 →
 * ~107 MB, peak ~197 → ~134 MB; garbage collection ~5 % → ~8 % of the main thread's busy time,
 * CPU per proxied request ~+5 % (+0.005 to +0.027 ms on ~0.29 ms). A 6 MB semi-space gave a peak
 * of ~127 MB for ~+12 % CPU; without --liftoff-only the peak is ~11 MB higher.
 * An operator who passes V8 heap flags on the command line or in NODE_OPTIONS gets exactly those
 * instead. (NODE_OPTIONS is Node's own variable, read here because this runs before config.ts.)
 */
export const YOUNG_SEMI_SPACE_MB = 8
const MB = 1024 * 1024

const FLAGS = ['--heap-growing-percent=30', '--liftoff-only']
const OPERATOR_FLAG = /--(max|min)-semi-space-size|--semi-space-growth-factor|--max-old-space-size|--max-heap-size|--heap-growing-percent|--optimize-for-size/

export function tuneHeap(): void {
  const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ')
  if (OPERATOR_FLAG.test(given)) return
  for (const flag of FLAGS) setFlagsFromString(flag)
  capYoungGeneration(YOUNG_SEMI_SPACE_MB * MB)
}

function capYoungGeneration(semiSpace: number): void {
  let factor = 1
  setFlagsFromString('--semi-space-growth-factor=1')
  const setFactor = (next: number) => {
    if (next === factor) return
    factor = next
    setFlagsFromString(`--semi-space-growth-factor=${next}`)
  }
  const adjust = () => {
    // The new space is two semi-spaces; V8 may also shrink it again when allocation is slow.
    const current = (getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0) / 2
    setFactor(current >= semiSpace || current === 0 ? 1 : Math.max(2, Math.ceil(semiSpace / current)))
  }
  new PerformanceObserver(adjust).observe({ entryTypes: ['gc'] })
}
