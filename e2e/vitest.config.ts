import { defineConfig } from 'vitest/config'

// Browser tests: the real server (child process) serving the built SPA, driven through Debian's
// chromium by playwright-core. Run with `npm run test:e2e` (it builds the web app first).
export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['e2e/*.spec.ts'],
    environment: 'node',
    // Starting the server, a browser and a cold page load take seconds, not milliseconds.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // One browser and one server at a time: predictable on small CI machines.
    fileParallelism: false,
    maxWorkers: 1,
    reporters: process.env.CI ? ['verbose'] : ['default'],
  },
})
