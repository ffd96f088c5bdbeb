import { createConnection } from 'mysql2/promise'
import pg from 'pg'
import { createConnection as netConnect } from 'node:net'
import { serviceEnabled, TEST_MYSQL_URL, TEST_POSTGRES_URL, TEST_REDIS_URL } from './services'

/**
 * Runs once before the suites: checks that every service the suites will use answers, so a
 * missing service fails the run loudly at the start instead of half-way, and refuses the
 * `QIAO_TEST_SERVICES` opt-out in CI.
 */
export default async function setup(): Promise<void> {
  const problems: string[] = []
  if (process.env.CI && process.env.QIAO_TEST_SERVICES) {
    problems.push('QIAO_TEST_SERVICES must not be set in CI: every suite runs against every service')
  }
  if (serviceEnabled('mysql')) {
    try {
      const c = await createConnection({ uri: TEST_MYSQL_URL, connectTimeout: 5000 })
      await c.query('SELECT 1')
      await c.end()
    } catch (err) {
      problems.push(`MariaDB at ${TEST_MYSQL_URL}: ${(err as Error).message}`)
    }
  }
  if (serviceEnabled('postgres')) {
    try {
      const c = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 5000 })
      await c.connect()
      await c.query('SELECT 1')
      await c.end()
    } catch (err) {
      problems.push(`PostgreSQL at ${TEST_POSTGRES_URL}: ${(err as Error).message}`)
    }
  }
  if (serviceEnabled('redis')) {
    const u = new URL(TEST_REDIS_URL)
    const ok = await new Promise<boolean>((resolve) => {
      const s = netConnect({ host: u.hostname, port: Number(u.port || 6379) })
      s.setTimeout(3000)
      s.once('connect', () => {
        s.write('PING\r\n')
      })
      s.once('data', (d) => {
        s.destroy()
        resolve(d.toString().startsWith('+PONG'))
      })
      s.once('error', () => resolve(false))
      s.once('timeout', () => {
        s.destroy()
        resolve(false)
      })
    })
    if (!ok) problems.push(`Redis at ${TEST_REDIS_URL} did not answer PING`)
  }
  if (problems.length) {
    throw new Error(
      `Integration services are missing:\n  - ${problems.join('\n  - ')}\n` +
        'Start them (see CONTRIBUTING.md) or, outside CI only, set QIAO_TEST_SERVICES=sqlite.',
    )
  }
}
