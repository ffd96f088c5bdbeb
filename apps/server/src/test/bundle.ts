import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { freePort } from './ports'

/**
 * The server as a real process, for tests of what only a process shows: module loading, heap
 * settings, signals, a `kill -9`. Usually the built bundle (`dist/main.js`, what `npm start` runs).
 */
export const REPO_ROOT = resolve(import.meta.dirname, '../../../..')

/** Builds the bundle into a fresh directory inside the repository (so its npm imports resolve). */
export function buildBundle(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(REPO_ROOT, 'node_modules', '.qiao-bundle-test-'))
  execFileSync(process.execPath, ['apps/server/build.mjs', dir], { cwd: REPO_ROOT, stdio: 'pipe' })
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

export interface ServerProcess {
  readonly child: ChildProcess
  readonly base: string
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string
  /** Sends `signal` and resolves with the exit code once the process is gone. */
  stop(signal: NodeJS.Signals): Promise<number | null>
}

/** Production settings on SQLite in `dataDir`, with fresh keys; `env` adds to or overrides them. */
export function productionEnv(dataDir: string, env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return {
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    QIAO_DATA_DIR: dataDir,
    QIAO_JWT_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    QIAO_MASTER_KEY: randomBytes(32).toString('base64'),
    QIAO_ADMIN_EMAIL: 'bundle-admin@example.com',
    QIAO_ADMIN_PASSWORD: `Bundle-${randomBytes(8).toString('hex')}-Admin`,
    QIAO_EMULATOR: 'off',
    ...env,
  }
}

/**
 * Starts `script` (the bundle's `main.js`, or `src/main.ts` with `--import tsx` in `nodeArgs`) on a
 * free port, from the repository's root, and resolves once `/healthz` answers.
 */
export async function startServer(script: string, env: NodeJS.ProcessEnv, nodeArgs: string[] = []): Promise<ServerProcess> {
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const child = spawn(process.execPath, [...nodeArgs, script], {
    cwd: REPO_ROOT,
    env: { QIAO_PUBLIC_URL: base, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (c: Buffer) => (output += c.toString()))
  child.stderr.on('data', (c: Buffer) => (output += c.toString()))
  const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)))
  for (let i = 0; ; i++) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`server exited early:\n${output}`)
    const up = await fetch(`${base}/healthz`).then((r) => r.ok, () => false)
    if (up) break
    if (i > 240) throw new Error(`server not ready:\n${output}`)
    await new Promise((ok) => setTimeout(ok, 250))
  }
  return {
    child,
    base,
    output: () => output,
    stop: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
}
