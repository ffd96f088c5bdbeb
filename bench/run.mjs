#!/usr/bin/env node
/**
 * `npm run bench`: what the /v1 gateway costs on top of the upstream it relays.
 *
 * Starts the protocol emulator (bench/emulator.mjs) and a production-like Qiao (the built bundle,
 * NODE_ENV=production, SQLite in a temp dir, one user with a large balance and one API key, rate
 * limits on but far above what the bench sends), then measures the same small non-streaming chat
 * request sent directly to the emulator and through Qiao's /v1, interleaved, 3 runs, medians:
 *
 * - serial latency (one connection, keep-alive), p50/p99, and what Qiao adds
 * - throughput at 32 connections (autocannon), and the ratio via/direct
 * - Qiao's CPU time per proxied request (utime+stime of the server process from /proc)
 * - streaming time to first byte, direct vs via
 * - RSS idle, peak under load, and with 1,000 concurrent open streams (the emulator stalls them)
 *
 * Writes bench/results/latest.json and the summary table into bench/README.md (between the
 * BENCH:BEGIN/END markers). `--cpu-prof` also writes a V8 CPU profile of the server into
 * bench/results/. `--idle` stops after the idle reading and prints where the memory lives:
 * resident memory by mapping (/proc/<pid>/smaps), V8's heap spaces and the packages loaded
 * (bench/heap-report.mjs; with BENCH_HEAP_SNAPSHOT=1 also a heap snapshot in bench/results/).
 * `--compare <git revision>` measures this tree against that revision instead (below, `compare`).
 * Not part of `npm test`.
 */
import { spawn } from 'node:child_process'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { Agent, Client, request } from 'undici'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const args = new Set(process.argv.slice(2))
const CPU_PROF = args.has('--cpu-prof')
const QUICK = args.has('--quick')
const NO_STREAMS = args.has('--no-streams')
// Only boot, seed and read the idle RSS, with where it lives (/proc/<pid>/smaps): for work on memory.
const IDLE_ONLY = args.has('--idle')
// Boot and seed, print the processes, URLs and keys, and wait for Ctrl-C: for outside tools
// (strace -c, perf) pointed at the running processes.
const SERVE = args.has('--serve')
// `--compare <rev>`: this tree's bundle and that revision's, side by side (paired CPU comparison).
const COMPARE = args.has('--compare')
const COMPARE_REV = COMPARE ? process.argv[process.argv.indexOf('--compare') + 1] : undefined
const COMPARE_ROUNDS = 8

const RUNS = 3
const SERIAL_REQUESTS = QUICK ? 300 : 1500
const LOAD_SECONDS = QUICK ? 2 : 5
const LOAD_CONNECTIONS = 32
const TTFB_REQUESTS = QUICK ? 50 : 200
const OPEN_STREAMS = 1000
const IDLE_SETTLE_MS = 15_000

const TARGETS = {
  addedP50Ms: 0.5,
  addedP99Ms: 2,
  cpuMsPerRequest: 0.25,
  ttfbAddedMs: 1,
  rssIdleMb: 80,
  rssPeakMb: 150,
  rssStreamsMb: 300,
}

const UPSTREAM_KEY = 'sk-bench-upstream-key-0001'
const BODY = JSON.stringify({ model: 'qwen-plus', messages: [{ role: 'user', content: 'Hello, bridge!' }], max_tokens: 32 })
const STREAM_BODY = JSON.stringify({ model: 'qwen-plus', messages: [{ role: 'user', content: 'Hello, bridge!' }], max_tokens: 32, stream: true })

const log = (...a) => console.error('[bench]', ...a)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
const round = (x, d = 3) => Math.round(x * 10 ** d) / 10 ** d

async function freePort() {
  const srv = createServer()
  await new Promise((r) => srv.listen(0, '127.0.0.1', r))
  const { port } = srv.address()
  await new Promise((r) => srv.close(r))
  return port
}

/** Runs a command to its end; resolves with its standard output (trimmed) when `opts.stdio` pipes it. */
function run(cmd, argv, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: 'inherit', ...opts })
    let out = ''
    child.stdout?.on('data', (d) => (out += d))
    child.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`${cmd} ${argv.join(' ')} exited ${code}`))))
  })
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 per second on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100
}

function memoryMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0)
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 }
}

/** Resident memory by kind of mapping, largest first (MB): what `--idle` prints. */
function residentBreakdown(pid) {
  const totals = new Map()
  let name = ''
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line)
    if (head) name = `${head[2] || '[anonymous]'} ${head[1]}`
    const rss = /^Rss:\s+(\d+) kB/.exec(line)
    if (rss) totals.set(name, (totals.get(name) ?? 0) + Number(rss[1]) / 1024)
  }
  return [...totals]
    .filter(([, mb]) => mb >= 0.1)
    .sort((a, b) => b[1] - a[1])
    .map(([n, mb]) => `${mb.toFixed(1).padStart(6)} MB  ${n}`)
    .join('\n')
}

async function json(url, { method = 'GET', body, token, headers = {} } = {}) {
  const res = await request(url, {
    method,
    headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  })
  const text = await res.body.text()
  if (res.statusCode >= 300) throw new Error(`${method} ${url} → ${res.statusCode} ${text}`)
  return text ? JSON.parse(text) : undefined
}

async function startEmulator() {
  return startPrinting(['--import', 'tsx', join(root, 'bench/emulator.mjs')])
}

/** The bare relay (bench/bare-relay.mjs) in front of the emulator: the floor Qiao is compared with. */
async function startBareRelay(emulatorUrl, upstreamKey) {
  return startPrinting([join(root, 'bench/bare-relay.mjs'), emulatorUrl, upstreamKey])
}

/** Starts a Node process that prints `{"url": …}` on its first stdout line. */
async function startPrinting(argv) {
  const child = spawn(process.execPath, argv, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
  const line = await new Promise((resolve, reject) => {
    let buf = ''
    child.stdout.on('data', (d) => {
      buf += d
      const nl = buf.indexOf('\n')
      if (nl >= 0) resolve(buf.slice(0, nl))
    })
    child.on('exit', (code) => reject(new Error(`${argv.at(-1)} exited ${code}`)))
  })
  return { child, url: JSON.parse(line).url }
}

/** A production-like Qiao from `main` (default: this tree's bundle), logging to bench/results/`log`. */
async function startQiao(emulatorUrl, dataDir, { main = join(root, 'apps/server/dist/main.js'), log: logName = 'server.log' } = {}) {
  const port = await freePort()
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const adminPassword = `Bench-${randomBytes(8).toString('hex')}-Admin`
  const env = {
    PATH: process.env.PATH,
    // QIAO_* variables given to the bench reach the server (experiments: QIAO_USAGE_FLUSH_MS=…);
    // the settings below win over them.
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('QIAO_'))),
    NODE_ENV: 'production',
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    QIAO_DATA_DIR: dataDir,
    QIAO_PUBLIC_URL: `http://127.0.0.1:${port}`,
    QIAO_JWT_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    QIAO_MASTER_KEY: randomBytes(32).toString('base64'),
    QIAO_ADMIN_EMAIL: 'bench-admin@example.com',
    QIAO_ADMIN_PASSWORD: adminPassword,
    QIAO_EMULATOR: 'off',
    DASHSCOPE_API_KEY: UPSTREAM_KEY,
    DASHSCOPE_BASE_URL: emulatorUrl,
    // --idle: a reporter the bench signals once idle (bench/heap-report.mjs).
    ...(IDLE_ONLY ? { NODE_OPTIONS: `--import ${join(root, 'bench/heap-report.mjs')}`, BENCH_HEAP_SNAPSHOT: process.env.BENCH_HEAP_SNAPSHOT ?? '' } : {}),
  }
  // BENCH_SERVER_FLAGS: more node flags for the server (e.g. --perf-basic-prof for `perf record`).
  const nodeArgs = [...(CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${join(root, 'bench/results')}`] : []), ...(process.env.BENCH_SERVER_FLAGS?.split(' ').filter(Boolean) ?? [])]
  // The server's own log goes to a file: a benchmark's console is for its results.
  mkdirSync(join(root, 'bench/results'), { recursive: true })
  const logFd = openSync(join(root, 'bench/results', logName), 'w')
  const child = spawn(process.execPath, [...nodeArgs, main], { cwd: root, env, stdio: ['ignore', logFd, logFd] })
  const origin = `http://127.0.0.1:${port}`
  for (let i = 0; ; i++) {
    try {
      const res = await request(`${origin}/healthz`)
      await res.body.dump()
      if (res.statusCode === 200) break
    } catch {
      // not listening yet
    }
    if (i > 300) throw new Error('Qiao did not start')
    await sleep(100)
  }
  return { child, origin, adminPassword }
}

/** An account with a large balance and an API key; limits raised so they are on but never hit. */
async function seed(origin, adminPassword) {
  const admin = await json(`${origin}/api/auth/login`, { method: 'POST', body: { login: 'bench-admin@example.com', password: adminPassword } })
  await json(`${origin}/api/admin/settings`, {
    method: 'PATCH',
    token: admin.accessToken,
    body: { rateLimits: { userRpm: 100_000, userTpm: 100_000_000, keyRpm: 100_000, keyTpm: 100_000_000, maxConcurrentStreams: 1_000, modelRpm: 1_000_000 } },
  })
  const keys = []
  for (const i of [1, 2]) {
    const user = await json(`${origin}/api/auth/register`, { method: 'POST', body: { email: `bench${i}@example.com`, password: `Bench-${randomBytes(6).toString('hex')}-user` } })
    await json(`${origin}/api/admin/users/${user.user.id}/balance`, { method: 'POST', token: admin.accessToken, body: { delta: 1_000_000_000_000, reason: 'benchmark' } })
    const { secret } = await json(`${origin}/api/keys`, { method: 'POST', token: user.accessToken, body: { name: 'bench' } })
    keys.push(secret)
  }
  return keys
}

/** `n` requests one after another on one keep-alive connection; latencies in ms. */
async function serial(url, path, token, n, body = BODY) {
  const client = new Client(url, { pipelining: 1 })
  const times = []
  try {
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint()
      const res = await client.request({ method: 'POST', path, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body })
      await res.body.text()
      const dt = Number(process.hrtime.bigint() - t0) / 1e6
      if (res.statusCode !== 200) throw new Error(`serial ${path} → ${res.statusCode}`)
      times.push(dt)
    }
  } finally {
    await client.close()
  }
  times.sort((a, b) => a - b)
  return { p50: percentile(times, 50), p99: percentile(times, 99) }
}

/** Time to the first body byte of a streaming request, median of `n`, one keep-alive connection. */
async function ttfb(url, path, token, n) {
  const client = new Client(url, { pipelining: 1 })
  const times = []
  try {
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint()
      const res = await client.request({ method: 'POST', path, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: STREAM_BODY })
      let first
      for await (const chunk of res.body) {
        // The first data frame (Qiao sends an SSE comment first; count what the client can use).
        if (first === undefined && chunk.toString().includes('data:')) first = Number(process.hrtime.bigint() - t0) / 1e6
      }
      if (res.statusCode !== 200 || first === undefined) throw new Error(`ttfb ${path} → ${res.statusCode}`)
      times.push(first)
    }
  } finally {
    await client.close()
  }
  return median(times)
}

function load(url, token, pid) {
  return new Promise((resolve, reject) => {
    const cpu0 = pid ? cpuSeconds(pid) : 0
    autocannon(
      {
        url,
        method: 'POST',
        connections: LOAD_CONNECTIONS,
        duration: LOAD_SECONDS,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: BODY,
      },
      (err, result) => {
        if (err) return reject(err)
        const ok = result['2xx']
        if (result.non2xx || result.errors) log(`warning: ${result.non2xx} non-2xx, ${result.errors} errors at ${url}`)
        const cpuMs = pid ? ((cpuSeconds(pid) - cpu0) * 1000) / Math.max(1, ok) : undefined
        resolve({ rps: ok / LOAD_SECONDS, cpuMsPerRequest: cpuMs, latencyP50: result.latency.p50, latencyP99: result.latency.p99 })
      },
    )
  })
}

/**
 * Opens `n` streams through Qiao that the emulator holds open after their first content chunk
 * (a stall shorter than Qiao's 30 s upstream idle limit); RSS while all are open.
 */
async function openStreams(qiao, emulatorUrl, keys, pid, n) {
  await json(`${emulatorUrl}/__emulator/faults`, { method: 'POST', body: { fault: { type: 'stall', afterChunks: 2, delayMs: 28_000, keepAliveEveryMs: 5_000 }, times: n } })
  const agent = new Agent({ connections: n + 10, pipelining: 1 })
  const controllers = []
  let firstBytes = 0
  // Opened in waves: a thousand simultaneous connects overflow the listen backlog of a single
  // Node process (the emulator's), which is a property of the test rig, not of the gateway.
  const opened = async (count) => {
    const deadline = Date.now() + 60_000
    while (firstBytes < count && Date.now() < deadline) await Promise.race([sleep(50), failed])
  }
  let failed = new Promise(() => {})
  const streams = []
  for (let wave = 0; wave < n; wave += 100) {
    const batch = Array.from({ length: Math.min(100, n - wave) }, (_, j) => openOne(wave + j))
    streams.push(...batch)
    failed = Promise.race([failed, Promise.all(batch).then(() => undefined)])
    await opened(wave + batch.length)
  }
  async function openOne(i) {
    const controller = new AbortController()
    controllers.push(controller)
    try {
      const res = await request(`${qiao}/v1/chat/completions`, {
        method: 'POST',
        dispatcher: agent,
        signal: controller.signal,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${keys[i % keys.length]}` },
        body: STREAM_BODY,
      })
      if (res.statusCode !== 200) throw new Error(`stream ${i} → ${res.statusCode} ${await res.body.text()}`)
      let counted = false
      for await (const chunk of res.body) {
        if (!counted && chunk.toString().includes('data:')) {
          counted = true
          firstBytes++
        }
      }
    } catch (err) {
      if (!controller.signal.aborted) throw err
    }
  }
  const open = firstBytes
  await sleep(500)
  const mem = memoryMb(pid)
  for (const c of controllers) c.abort()
  await Promise.allSettled(streams)
  await agent.close()
  await request(`${emulatorUrl}/__emulator/faults`, { method: 'DELETE' }).then((r) => r.body.dump())
  return { open, rssMb: mem.rss }
}

async function main() {
  if (COMPARE && (!COMPARE_REV || COMPARE_REV.startsWith('--'))) throw new Error('--compare needs a git revision: npm run bench -- --compare <rev>')
  log('building the server bundle')
  await run('npm', ['run', 'build', '-w', '@qiao/server'], { cwd: root })
  if (COMPARE) return compare(COMPARE_REV)
  const dataDir = mkdtempSync(join(tmpdir(), 'qiao-bench-'))
  const emulator = await startEmulator()
  const relay = await startBareRelay(emulator.url, UPSTREAM_KEY)
  const qiao = await startQiao(emulator.url, dataDir)
  const pid = qiao.child.pid
  const stop = () => stopAll([qiao.child, relay.child, emulator.child], [dataDir])
  try {
    const keys = await seed(qiao.origin, qiao.adminPassword)
    if (SERVE) {
      console.log(JSON.stringify({ qiao: { pid, url: qiao.origin, keys }, bareRelay: { pid: relay.child.pid, url: relay.url }, emulator: { pid: emulator.child.pid, url: emulator.url, key: UPSTREAM_KEY } }))
      await new Promise((resolve) => process.once('SIGINT', resolve))
      return
    }
    // Idle: booted, migrated, seeded, not yet under load. Read 2 s after the seeding requests and
    // again once the process has been quiet for IDLE_SETTLE_MS (V8 gives memory back only when
    // allocation has gone quiet: its memory reducer); the settled figure is the one held to target.
    await sleep(2000)
    const idleEarly = memoryMb(pid).rss
    await sleep(IDLE_SETTLE_MS - 2000)
    const idle = memoryMb(pid).rss
    log(`idle RSS ${idleEarly.toFixed(1)} MB after 2 s, ${idle.toFixed(1)} MB after ${IDLE_SETTLE_MS / 1000} s`)
    if (IDLE_ONLY) {
      const report = join(root, 'bench/results/heap-report.txt')
      rmSync(report, { force: true })
      process.kill(pid, 'SIGUSR2')
      for (let i = 0; i < 600 && !existsSync(report); i++) await sleep(100)
      console.log(readFileSync(report, 'utf8'))
      console.log('Resident memory by mapping (MB):')
      console.log(residentBreakdown(pid))
      return
    }
    const direct = { url: emulator.url, path: '/compatible-mode/v1/chat/completions', token: UPSTREAM_KEY }
    const via = { url: qiao.origin, path: '/v1/chat/completions', token: keys[0] }
    const bare = { url: relay.url, path: '/v1/chat/completions', token: 'unused' }

    log('warming up')
    await serial(direct.url, direct.path, direct.token, 300)
    await serial(via.url, via.path, via.token, 300)
    await serial(bare.url, bare.path, bare.token, 300)
    await load(`${via.url}${via.path}`, via.token)
    await load(`${bare.url}${bare.path}`, bare.token)
    const afterWarmup = memoryMb(pid).rss
    log(`RSS after warm-up ${afterWarmup.toFixed(1)} MB`)

    const runs = []
    for (let i = 1; i <= RUNS; i++) {
      log(`run ${i}/${RUNS}`)
      const sd = await serial(direct.url, direct.path, direct.token, SERIAL_REQUESTS)
      const sv = await serial(via.url, via.path, via.token, SERIAL_REQUESTS)
      const sb = await serial(bare.url, bare.path, bare.token, SERIAL_REQUESTS)
      const ld = await load(`${direct.url}${direct.path}`, direct.token)
      const lv = await load(`${via.url}${via.path}`, via.token, pid)
      const lb = await load(`${bare.url}${bare.path}`, bare.token, relay.child.pid)
      const td = await ttfb(direct.url, direct.path, direct.token, TTFB_REQUESTS)
      const tv = await ttfb(via.url, via.path, via.token, TTFB_REQUESTS)
      const tb = await ttfb(bare.url, bare.path, bare.token, TTFB_REQUESTS)
      const r = {
        // The bare relay (bench/bare-relay.mjs) measured the same way: the floor on this machine.
        bareAddedP50Ms: sb.p50 - sd.p50,
        bareAddedP99Ms: sb.p99 - sd.p99,
        bareRps: lb.rps,
        bareCpuMsPerRequest: lb.cpuMsPerRequest,
        bareTtfbAddedMs: tb - td,
        serialDirect: sd,
        serialVia: sv,
        addedP50Ms: sv.p50 - sd.p50,
        addedP99Ms: sv.p99 - sd.p99,
        rpsDirect: ld.rps,
        rpsVia: lv.rps,
        throughputRatio: lv.rps / ld.rps,
        cpuMsPerRequest: lv.cpuMsPerRequest,
        ttfbDirectMs: td,
        ttfbViaMs: tv,
        ttfbAddedMs: tv - td,
      }
      log(JSON.stringify(r))
      runs.push(r)
    }
    const peak = memoryMb(pid).hwm

    log(`opening ${OPEN_STREAMS} concurrent streams`)
    const streams = NO_STREAMS ? { open: 0, rssMb: 0 } : await openStreams(qiao.origin, emulator.url, keys, pid, OPEN_STREAMS)
    log(`${streams.open} streams open, RSS ${streams.rssMb.toFixed(1)} MB`)

    const med = (k) => median(runs.map((r) => r[k]))
    const summary = {
      addedP50Ms: round(med('addedP50Ms')),
      addedP99Ms: round(med('addedP99Ms')),
      throughputRatio: round(med('throughputRatio')),
      rpsDirect: Math.round(med('rpsDirect')),
      rpsVia: Math.round(med('rpsVia')),
      cpuMsPerRequest: round(med('cpuMsPerRequest')),
      ttfbAddedMs: round(med('ttfbAddedMs')),
      directP50Ms: round(median(runs.map((r) => r.serialDirect.p50))),
      bareAddedP50Ms: round(med('bareAddedP50Ms')),
      bareAddedP99Ms: round(med('bareAddedP99Ms')),
      bareThroughputRatio: round(median(runs.map((r) => r.bareRps / r.rpsDirect))),
      bareCpuMsPerRequest: round(med('bareCpuMsPerRequest')),
      bareTtfbAddedMs: round(med('bareTtfbAddedMs')),
      rssIdleMb: round(idle, 1),
      rssIdleEarlyMb: round(idleEarly, 1),
      rssAfterWarmupMb: round(afterWarmup, 1),
      rssPeakMb: round(peak, 1),
      rssStreamsMb: round(streams.rssMb, 1),
      openStreams: streams.open,
    }
    const result = {
      at: new Date().toISOString(),
      machine: { node: process.version, cpus: (await import('node:os')).cpus().length, platform: process.platform },
      // Qiao serves the web app too when it has been built (npm test builds it): ~2 MB more RSS.
      webAppServed: existsSync(join(root, 'apps/web/dist/index.html')),
      settings: { runs: RUNS, serialRequests: SERIAL_REQUESTS, loadSeconds: LOAD_SECONDS, connections: LOAD_CONNECTIONS, ttfbRequests: TTFB_REQUESTS, openStreams: OPEN_STREAMS, quick: QUICK },
      targets: TARGETS,
      summary,
      runs,
    }
    mkdirSync(join(root, 'bench/results'), { recursive: true })
    // A partial run (quick, or without the stream step) is a smoke test: it records nothing.
    if (!QUICK && !NO_STREAMS) {
      writeFileSync(join(root, 'bench/results/latest.json'), JSON.stringify(result, null, 2) + '\n')
      writeReadme(result)
    }
    console.log(table(result))
  } finally {
    await stop()
    if (CPU_PROF) {
      const dir = join(root, 'bench/results')
      const prof = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile') && f !== 'server.cpuprofile').sort().at(-1)
      if (prof) {
        renameSync(join(dir, prof), join(dir, 'server.cpuprofile'))
        log(`CPU profile: bench/results/server.cpuprofile`)
      }
    }
  }
}

/**
 * `--compare <rev>`: CPU per proxied request of this tree's bundle against `rev`'s, paired. On
 * machines whose speed drifts by tens of percent within minutes, two separate bench runs cannot
 * show a 5–15 % change; two servers measured turn about against one emulator can. `rev` is built
 * in a temporary git worktree inside the repository (so its bundle resolves this checkout's
 * node_modules: a revision with other dependencies needs its own install). Writes nothing.
 */
async function compare(rev) {
  const sha = await run('git', ['rev-parse', '--short', rev], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
  const tree = join(root, '.bench-compare')
  const outdir = join(root, 'apps/server/dist-compare')
  rmSync(outdir, { recursive: true, force: true })
  // What a run killed half-way left behind.
  rmSync(tree, { recursive: true, force: true })
  await run('git', ['worktree', 'prune'], { cwd: root })
  await run('git', ['worktree', 'add', '--force', '--detach', tree, sha], { cwd: root, stdio: 'ignore' })
  try {
    log(`building ${rev} (${sha})`)
    await run(process.execPath, ['build.mjs', outdir], { cwd: join(tree, 'apps/server') })
  } finally {
    await run('git', ['worktree', 'remove', '--force', tree], { cwd: root })
  }
  const dirs = [mkdtempSync(join(tmpdir(), 'qiao-bench-')), mkdtempSync(join(tmpdir(), 'qiao-bench-'))]
  const emulator = await startEmulator()
  const sides = [
    { name: 'this tree', ...(await startQiao(emulator.url, dirs[0])) },
    { name: rev === sha || sha.startsWith(rev) ? sha : `${rev} (${sha})`, ...(await startQiao(emulator.url, dirs[1], { main: join(outdir, 'main.js'), log: 'server-compare.log' })) },
  ]
  try {
    for (const side of sides) side.key = (await seed(side.origin, side.adminPassword))[0]
    log('warming up both')
    for (const side of sides) {
      await serial(side.origin, '/v1/chat/completions', side.key, 300)
      await load(`${side.origin}/v1/chat/completions`, side.key)
    }
    const cpu = sides.map(() => [])
    for (let n = 1; n <= COMPARE_ROUNDS; n++) {
      // Turn about, and in alternating order, so a drift in the machine's speed hits both alike.
      for (const i of n % 2 ? [0, 1] : [1, 0]) {
        const r = await load(`${sides[i].origin}/v1/chat/completions`, sides[i].key, sides[i].child.pid)
        cpu[i].push(r.cpuMsPerRequest)
      }
      log(`round ${n}/${COMPARE_ROUNDS}: ${sides.map((side, i) => `${side.name} ${round(cpu[i].at(-1))} ms`).join(', ')}`)
    }
    const [mine, theirs] = cpu.map((xs) => median(xs))
    console.log(
      [
        `CPU per proxied request, median of ${COMPARE_ROUNDS} paired rounds (32 connections, ${LOAD_SECONDS} s each):`,
        '',
        '| build | ms per request | rounds |',
        '| --- | --- | --- |',
        ...sides.map((side, i) => `| ${side.name} | ${round(median(cpu[i]))} | ${cpu[i].map((x) => round(x)).join(', ')} |`),
        '',
        `This tree: ${mine <= theirs ? '' : '+'}${round((100 * (mine - theirs)) / theirs, 1)} % CPU per request against ${sides[1].name}.`,
      ].join('\n'),
    )
  } finally {
    await stopAll([...sides.map((side) => side.child), emulator.child], [...dirs, outdir])
  }
}

/** SIGTERM to each child process, then waits for them all to exit and removes `dirs`. */
async function stopAll(children, dirs) {
  for (const child of children) child.kill('SIGTERM')
  await Promise.all(children.map((child) => new Promise((r) => child.once('exit', r))))
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
}

function table({ summary: s, targets: t, at, machine, webAppServed }) {
  const row = (what, value, bare, target, pass) => `| ${what} | ${value} | ${bare} | ${target} | ${pass === undefined ? '' : pass ? '✅ pass' : '❌ miss'} |`
  const times = (value, floor) => (floor > 0 ? ` (${round(value / floor, 1)}×)` : '')
  return [
    `Measured ${at} on ${machine.cpus} CPUs, Node ${machine.node} (medians of 3 interleaved runs), ` +
      `${webAppServed ? 'with' : 'without'} the web app served (apps/web/dist ${webAppServed ? 'built' : 'not built'}). ` +
      `The emulator answered a direct call in ${s.directP50Ms} ms (p50): the machine's speed. "Bare relay" is ` +
      '`bench/bare-relay.mjs` measured the same way: the cheapest relay Node can be on this machine.',
    '',
    '| measure | Qiao | bare relay | target | |',
    '| --- | --- | --- | --- | --- |',
    row('serial added latency p50', `${s.addedP50Ms} ms`, `${s.bareAddedP50Ms} ms`, `≤ ${t.addedP50Ms} ms`, s.addedP50Ms <= t.addedP50Ms),
    row('serial added latency p99', `${s.addedP99Ms} ms`, `${s.bareAddedP99Ms} ms`, `≤ ${t.addedP99Ms} ms`, s.addedP99Ms <= t.addedP99Ms),
    row('throughput at 32 connections, via / direct', `${s.throughputRatio} (${s.rpsVia} / ${s.rpsDirect} req/s)`, `${s.bareThroughputRatio}`, 'report', undefined),
    row('server CPU per proxied request', `${s.cpuMsPerRequest} ms${times(s.cpuMsPerRequest, s.bareCpuMsPerRequest)}`, `${s.bareCpuMsPerRequest} ms`, `≤ ${t.cpuMsPerRequest} ms`, s.cpuMsPerRequest <= t.cpuMsPerRequest),
    row('streaming time to first byte added', `${s.ttfbAddedMs} ms`, `${s.bareTtfbAddedMs} ms`, `≤ ${t.ttfbAddedMs} ms`, s.ttfbAddedMs <= t.ttfbAddedMs),
    row(`RSS idle (${IDLE_SETTLE_MS / 1000} s quiet after boot and seeding; ${s.rssIdleEarlyMb} MB after 2 s)`, `${s.rssIdleMb} MB`, '', `≤ ${t.rssIdleMb} MB`, s.rssIdleMb <= t.rssIdleMb),
    row('RSS peak (32 connections)', `${s.rssPeakMb} MB`, '', `≤ ${t.rssPeakMb} MB`, s.rssPeakMb <= t.rssPeakMb),
    row(`RSS with ${s.openStreams} open streams`, `${s.rssStreamsMb} MB`, '', `≤ ${t.rssStreamsMb} MB`, s.rssStreamsMb <= t.rssStreamsMb && s.openStreams === OPEN_STREAMS),
  ].join('\n')
}

function writeReadme(result) {
  const path = join(root, 'bench/README.md')
  const text = readFileSync(path, 'utf8')
  const begin = '<!-- BENCH:BEGIN -->'
  const end = '<!-- BENCH:END -->'
  const a = text.indexOf(begin)
  const b = text.indexOf(end)
  if (a < 0 || b < a) throw new Error('bench/README.md lacks the BENCH:BEGIN/END markers')
  writeFileSync(path, `${text.slice(0, a + begin.length)}\n${table(result)}\n${text.slice(b)}`)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
