import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigError, ENV_SCHEMA, loadConfig } from './config'

const root = join(import.meta.dirname, '../../..')
const KEY = Buffer.alloc(32, 7).toString('base64')

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env)
  } catch (err) {
    if (err instanceof ConfigError) return err.problems
    throw err
  }
  return []
}

describe('configuration', () => {
  it('needs nothing in development and applies the documented defaults', () => {
    const cfg = loadConfig({})
    expect(cfg.PORT).toBe(3000)
    expect(cfg.QIAO_DATA_DIR).toBe('./data')
    expect(cfg.DATABASE_URL).toBeUndefined()
    expect(cfg.QIAO_USAGE_FLUSH_MS).toBe(50)
    expect(cfg.isProduction).toBe(false)
    expect(Object.isFrozen(cfg)).toBe(true)
  })

  it('reports every problem at once, not just the first', () => {
    const problems = problemsOf({ PORT: 'eighty', DATABASE_URL: 'oracle://x', LOG_LEVEL: 'loud', QIAO_USAGE_FLUSH_MS: '0' })
    expect(problems.join('\n')).toMatch(/QIAO_USAGE_FLUSH_MS/)
    expect(problems.join('\n')).toMatch(/PORT/)
    expect(problems.join('\n')).toMatch(/DATABASE_URL/)
    expect(problems.join('\n')).toMatch(/LOG_LEVEL/)
  })

  it('refuses to boot in production without JWT keys and a master key (SECURITY A5)', () => {
    const problems = problemsOf({ NODE_ENV: 'production' })
    expect(problems.some((p) => p.startsWith('QIAO_JWT_PRIVATE_KEY'))).toBe(true)
    expect(problems.some((p) => p.startsWith('QIAO_MASTER_KEY'))).toBe(true)
  })

  it('refuses example master keys and default admin passwords in production (SECURITY A5)', () => {
    const problems = problemsOf({
      NODE_ENV: 'production',
      QIAO_JWT_PRIVATE_KEY: '/etc/qiao/jwt.pem',
      QIAO_MASTER_KEY: 'change-me',
      QIAO_ADMIN_PASSWORD: 'changeme-please-123',
    })
    expect(problems.some((p) => p.startsWith('QIAO_MASTER_KEY'))).toBe(true)
    expect(problems.some((p) => p.startsWith('QIAO_ADMIN_PASSWORD'))).toBe(true)
  })

  it('refuses a placeholder key of x characters but not a random key that starts with x', () => {
    const production = { NODE_ENV: 'production', QIAO_JWT_PRIVATE_KEY: '/etc/qiao/jwt.pem' }
    expect(problemsOf({ ...production, QIAO_MASTER_KEY: `${'x'.repeat(43)}=` }).some((p) => p.startsWith('QIAO_MASTER_KEY'))).toBe(true)
    // One random key in 32 starts with x or X (the benchmark's boot used to fail that often).
    const random = `X${Buffer.alloc(32, 7).toString('base64').slice(1)}`
    expect(problemsOf({ ...production, QIAO_MASTER_KEY: random })).toEqual([])
  })

  it('accepts a complete production configuration', () => {
    expect(problemsOf({ NODE_ENV: 'production', QIAO_JWT_PRIVATE_KEY: '/etc/qiao/jwt.pem', QIAO_MASTER_KEY: KEY })).toEqual([])
  })

  it('treats empty values as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '' }).PORT).toBe(3000)
  })
})

describe('configuration documents stay in sync with the schema', () => {
  const variables = Object.keys(ENV_SCHEMA.shape).sort()

  it('.env.example lists exactly the variables of the schema', () => {
    const text = readFileSync(join(root, '.env.example'), 'utf8')
    const listed = [...text.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]).sort()
    expect(listed).toEqual(variables)
  })

  it('README.md documents every variable in its configuration table', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8')
    const missing = variables.filter((v) => !readme.includes(`| \`${v}\``))
    expect(missing).toEqual([])
  })

  it('every variable has a doc comment in config.ts', () => {
    const source = readFileSync(join(import.meta.dirname, 'config.ts'), 'utf8')
    const undocumented = variables.filter((v) => !new RegExp(`/\\*\\*[^*]*(\\*[^/][^*]*)*\\*/\\s*\\n\\s*${v}:`).test(source))
    expect(undocumented).toEqual([])
  })
})
