import { buildApp } from './app'
import { ConfigError, loadConfig } from './config'
import { openDb } from './db/kysely'
import { migrateToLatest } from './db/migrate'
import { createLogger } from './platform/logger'
import { loadJwtKeys, loadMasterKeys } from './platform/keys'
import { startup } from './startup'

/**
 * The process shell: config → database → migrations → app → listen → drain on SIGTERM. Started by
 * main.ts once the heap is configured.
 */
export async function serve(): Promise<void> {
  let config
  try {
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message)
      process.exit(1)
    }
    throw err
  }
  const logger = createLogger(config.LOG_LEVEL)
  const db = openDb({ url: config.DATABASE_URL, dataDir: config.QIAO_DATA_DIR })
  const applied = await migrateToLatest(db.kysely)
  if (applied.length) logger.info({ applied }, 'database migrated')

  // Imported only when configured: a single-instance deployment never loads ioredis.
  const redis = config.REDIS_URL
    ? new (await import('ioredis')).Redis(config.REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 2, enableOfflineQueue: false })
    : undefined
  redis?.on('error', (err: Error) => logger.warn({ err: err.message }, 'redis error'))

  const deps = {
    config,
    db,
    logger,
    redis,
    jwtKeys: loadJwtKeys(config, logger),
    masterKeys: loadMasterKeys(config, logger),
  }
  const app = await buildApp(deps)
  const stopBackground = await startup(app, deps)

  await app.listen({ port: config.PORT, host: config.HOST })

  let closing = false
  const shutdown = (signal: string) => {
    if (closing) return
    closing = true
    logger.info({ signal }, 'draining')
    // Force exit if draining takes too long (e.g. a stuck upstream).
    setTimeout(() => process.exit(1), 30_000).unref()
    void (async () => {
      // Live chat streams first, while their upstreams (the built-in emulator too) still run.
      await app.services.chat.drain()
      await stopBackground()
      await app.close()
      redis?.disconnect()
      await db.close()
      logger.info('stopped')
      process.exit(0)
    })()
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
}
