import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { expect } from 'vitest'

export const REPO_ROOT = resolve(import.meta.dirname, '..')
export const ARTIFACTS = join(REPO_ROOT, 'e2e', 'artifacts')
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

export interface RunningServer {
  /** http://localhost:<port> — localhost, not 127.0.0.1, so the `__Host-` Secure cookie is accepted. */
  url: string
  /** Everything the server printed so far (stdout and stderr). */
  output: () => string
  /**
   * The in-process emulator's base URL (its `/__emulator/faults` control route scripts upstream
   * failures), read from the server's start-up warning; undefined when real providers are configured.
   */
  emulatorUrl: () => string | undefined
  stop: () => Promise<void>
}

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const probe = createServer()
    probe.once('error', fail)
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address()
      const port = typeof address === 'object' && address ? address.port : 0
      probe.close(() => ok(port))
    })
  })
}

/**
 * Starts the real server as a child process on a free port with a fresh data directory
 * (SQLite, generated keys), serving the built SPA from apps/web/dist.
 */
export async function startServer(extraEnv: Record<string, string> = {}): Promise<RunningServer> {
  if (!existsSync(join(REPO_ROOT, 'apps/web/dist/index.html'))) {
    throw new Error('apps/web/dist is missing: run `npm run build -w @qiao/web` (npm run test:e2e does it)')
  }
  const port = await freePort()
  const dataDir = mkdtempSync(join(tmpdir(), 'qiao-e2e-'))
  const url = `http://localhost:${port}`
  const env: NodeJS.ProcessEnv = { ...process.env }
  // The embedded defaults (SQLite in the temp dir, in-process limits), whatever the caller's shell has.
  delete env.DATABASE_URL
  delete env.REDIS_URL
  Object.assign(env, {
    PORT: String(port),
    HOST: '127.0.0.1',
    QIAO_DATA_DIR: dataDir,
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    QIAO_PUBLIC_URL: url,
    ...extraEnv,
  })

  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'apps/server/src/main.ts'], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)))

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    }
    rmSync(dataDir, { recursive: true, force: true })
  }

  // Ready when /healthz answers; give up early if the process dies.
  const deadline = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null) {
      await stop()
      throw new Error(`server exited with ${child.exitCode} before it was ready:\n${output}`)
    }
    try {
      const res = await fetch(`${url}/healthz`)
      if (res.ok) break
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`server did not answer /healthz within 60 s:\n${output}`)
    }
    await new Promise((ok) => setTimeout(ok, 250))
  }
  return { url, output: () => output, emulatorUrl: () => emulatorUrlIn(output), stop }
}

function emulatorUrlIn(output: string): string | undefined {
  for (const line of output.split('\n')) {
    if (!line.includes('built-in emulator')) continue
    try {
      const entry = JSON.parse(line) as { url?: unknown }
      if (typeof entry.url === 'string') return entry.url
    } catch {
      // Not a JSON log line.
    }
  }
  return undefined
}

/** Debian's chromium, headless. Never downloads a browser. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: apt-get update && apt-get install -y chromium`)
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
}

/**
 * A file's server and browser, started one after the other (the server first) for its `beforeAll`:
 * `;({ server, browser } = await startServerAndBrowser())`. The server is stopped again if the browser fails.
 */
export async function startServerAndBrowser(
  extraEnv: Record<string, string> = {},
): Promise<{ server: RunningServer; browser: Browser }> {
  const server = await startServer(extraEnv)
  try {
    return { server, browser: await launchBrowser() }
  } catch (err) {
    await server.stop()
    throw err
  }
}

/** The `afterAll` of startServerAndBrowser: closes the browser, then stops the server; either may be missing. */
export async function stopServerAndBrowser(running: { server?: RunningServer; browser?: Browser }): Promise<void> {
  await running.browser?.close()
  await running.server?.stop()
}

/** JSON call against the running server, as an API client would make it; `token` goes in as a Bearer token. */
export async function apiCall<T>(
  server: RunningServer,
  method: string,
  path: string,
  token: string | null,
  body?: unknown,
): Promise<{ status: number; json: T }> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      accept: 'application/json',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  return { status: res.status, json: (text ? JSON.parse(text) : undefined) as T }
}

/**
 * The first admin's credentials: the first boot creates an admin and prints its one-time password
 * (features/auth/bootstrap.ts), which the server output keeps.
 */
export function firstAdmin(server: RunningServer): { email: string; password: string } {
  const banner = /email:\s+(\S+)\s+password:\s+(\S+)/.exec(server.output())
  expect(banner, 'the first-admin banner on the server console').not.toBeNull()
  return { email: banner![1]!, password: banner![2]! }
}

/** Signs the first admin in through the API: their credentials and an access token. */
export async function loginFirstAdmin(
  server: RunningServer,
): Promise<{ email: string; password: string; token: string }> {
  const { email, password } = firstAdmin(server)
  const login = await apiCall<{ accessToken: string }>(server, 'POST', '/api/auth/login', null, {
    login: email,
    password,
  })
  expect(login.status).toBe(200)
  return { email, password, token: login.json.accessToken }
}

/**
 * Admin settings for files that pay for chat turns and load many pages: new accounts get ¥5, and a roomy
 * per-IP auth limit keeps the file's page loads and reloads from tripping the sign-in throttle.
 */
export async function fundAccountsAndRaiseAuthLimit(server: RunningServer, adminToken: string): Promise<void> {
  const settings = await apiCall(server, 'PATCH', '/api/admin/settings', adminToken, {
    defaultBalance: 5_000_000,
    rateLimits: { authPerMinute: 1000 },
  })
  expect(settings.status).toBe(200)
}

export function artifactPath(name: string): string {
  mkdirSync(ARTIFACTS, { recursive: true })
  return join(ARTIFACTS, name)
}

/**
 * Scripts the in-process emulator's faults through its control route (`POST` to arm a fault,
 * `DELETE` to clear them all); the server prints the emulator's URL at start.
 */
export async function emulatorControl(server: RunningServer, method: 'POST' | 'DELETE', body?: unknown): Promise<void> {
  const base = server.emulatorUrl()
  if (!base) throw new Error(`the emulator URL is not in the server output:\n${server.output()}`)
  const res = await fetch(`${base}/__emulator/faults`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  if (res.status !== 200) throw new Error(`emulator control ${method} answered ${res.status}: ${await res.text()}`)
}
