import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import { buildApp, type App } from '../app'
import { loadConfig, type Config } from '../config'
import type { AppDeps, JwtKeySet, MasterKeySet } from '../context'
import type { Dialect } from '../db/kysely'
import { createLogger } from '../platform/logger'
import { keyIdOf, masterKeyId } from '../platform/keys'
import { createTestDb, type TestDb } from './databases'

let cachedJwt: JwtKeySet | undefined
/** One RSA key per test process: generating 2048-bit keys is slow. */
export function testJwtKeys(): JwtKeySet {
  if (!cachedJwt) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    cachedJwt = { current: { kid: keyIdOf(publicKey), privateKey, publicKey }, previous: [] }
  }
  return cachedJwt
}

export function testMasterKeys(): MasterKeySet {
  const key = randomBytes(32)
  return { current: { id: masterKeyId(key), key }, old: [] }
}

/** Captures every log line the app writes, so tests can grep them for secrets. */
export class LogCapture extends Writable {
  readonly lines: string[] = []
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.lines.push(chunk.toString())
    cb()
  }
  get text(): string {
    return this.lines.join('')
  }
}

export interface TestApp {
  app: App
  deps: AppDeps
  testDb: TestDb
  logs: LogCapture
  inject(opts: InjectOptions): Promise<LightMyRequestResponse>
  close(): Promise<void>
}

/**
 * A real app on a fresh database of the given dialect, logging at debug level into memory.
 * `env` overrides configuration; `deps` overrides dependencies (clock, Redis, keys).
 */
export async function createTestApp(
  options: { dialect?: Dialect; env?: Record<string, string>; deps?: Partial<AppDeps> } = {},
): Promise<TestApp> {
  const testDb = await createTestDb(options.dialect ?? 'sqlite')
  const config: Readonly<Config> = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'debug',
    QIAO_DATA_DIR: testDb.dataDir,
    QIAO_EMULATOR: 'off',
    ...options.env,
  })
  const logs = new LogCapture()
  const deps: AppDeps = {
    config,
    db: testDb.db,
    logger: createLogger(config.LOG_LEVEL, logs),
    jwtKeys: testJwtKeys(),
    masterKeys: testMasterKeys(),
    ...options.deps,
  }
  const app = await buildApp(deps)
  await app.ready()
  return {
    app,
    deps,
    testDb,
    logs,
    inject: (opts) => app.inject(opts),
    async close() {
      await app.close()
      await testDb.drop()
    },
  }
}
