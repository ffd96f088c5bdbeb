import { defineConfig } from 'vitest/config'

// Unit and integration tests of every workspace. Integration suites (`*.int.test.ts`) talk to
// real SQLite, MariaDB, PostgreSQL and Redis; see CONTRIBUTING.md for the variables.
export default defineConfig({
  test: {
    include: ['apps/server/src/**/*.test.ts', 'packages/shared/src/**/*.test.ts', 'apps/web/src/**/*.test.ts', 'apps/web/src/**/*.test.tsx', 'scripts/**/*.test.ts'],
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    globalSetup: ['apps/server/src/test/global-setup.ts'],
    // In CI every test name is printed, so the log shows the MariaDB, PostgreSQL and Redis suites running.
    reporters: process.env.CI ? ['verbose'] : ['default'],
  },
})
