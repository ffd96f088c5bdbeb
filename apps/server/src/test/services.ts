/**
 * Where the integration suites find MariaDB, PostgreSQL and Redis. Defaults are the local services
 * every development machine and CI runner has. `QIAO_TEST_SERVICES=sqlite` opts out of the others
 * on a laptop without them; CI (`CI=true`) refuses that opt-out, so a suite never silently skips.
 */
export const TEST_MYSQL_URL = process.env.QIAO_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test'
export const TEST_POSTGRES_URL = process.env.QIAO_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
export const TEST_REDIS_URL = process.env.QIAO_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

export type TestService = 'mysql' | 'postgres' | 'redis'

function enabledServices(): Set<string> {
  const raw = process.env.QIAO_TEST_SERVICES
  if (!raw) return new Set(['sqlite', 'mysql', 'postgres', 'redis'])
  return new Set(raw.split(',').map((s) => s.trim()))
}

export function serviceEnabled(service: TestService): boolean {
  return enabledServices().has(service)
}

/** The SQL dialects the repository suites run on. */
export function testDialects(): Array<'sqlite' | 'mysql' | 'postgres'> {
  const s = enabledServices()
  return (['sqlite', 'mysql', 'postgres'] as const).filter((d) => d === 'sqlite' || s.has(d))
}
