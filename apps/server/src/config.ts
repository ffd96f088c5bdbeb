import { z } from 'zod'

/**
 * The only reader of `process.env`. Every variable is documented here, in README.md's
 * configuration table and in `.env.example` (a test keeps the three in sync).
 */
const list = z
  .string()
  .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))

export const ENV_SCHEMA = z.object({
  /** Port the HTTP server listens on. */
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Interface to bind; `0.0.0.0` to accept connections from other machines. */
  HOST: z.string().min(1).default('127.0.0.1'),
  /** `development`, `production` or `test`. Production refuses to boot without keys. */
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  /** pino level: fatal, error, warn, info, debug, trace or silent. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Folder for the SQLite file, generated dev keys and uploaded files. */
  QIAO_DATA_DIR: z.string().min(1).default('./data'),
  /** Unset = SQLite in the data dir; `mysql://user:pass@host:3306/db`; `postgres://user:pass@host:5432/db`. */
  DATABASE_URL: z
    .string()
    .regex(/^(mysql|mariadb|postgres|postgresql|sqlite):/, 'must start with mysql://, postgres:// or sqlite:')
    .optional(),
  /** Optional `redis://host:6379`: shared rate limits, cache and revocations across instances. */
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').optional(),
  /** Prefix of every Redis key Qiao writes (`qiao:`); give instances sharing one Redis for different sites different prefixes. */
  QIAO_REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9:_.-]{1,64}$/, 'letters, digits and : _ . - only').optional(),
  /** Email of the admin created on first start with an empty database. */
  QIAO_ADMIN_EMAIL: z.string().email().optional(),
  /** Password of that admin; when unset a random one is printed once to the console. */
  QIAO_ADMIN_PASSWORD: z.string().min(12, 'at least 12 characters').max(128).optional(),
  /** 32 random bytes in base64 that encrypt provider keys (AES-256-GCM). Generated into the data dir in development. */
  QIAO_MASTER_KEY: z.string().optional(),
  /** Earlier master keys (comma-separated) still accepted for decryption while keys are re-encrypted. */
  QIAO_MASTER_KEYS_OLD: list.optional(),
  /** PEM (or a path to a PEM file) of the RS256 private key that signs access tokens. Generated in development. */
  QIAO_JWT_PRIVATE_KEY: z.string().optional(),
  /** PEM public keys (or paths, comma-separated) of earlier signing keys still honoured during a rotation. */
  QIAO_JWT_PREVIOUS_PUBLIC_KEYS: list.optional(),
  /** The URL users reach Qiao at; used as the token issuer and to decide whether cookies are `Secure`. */
  QIAO_PUBLIC_URL: z.string().url().default('http://localhost:3000'),
  /** Origins (comma-separated) allowed to call the API from a browser. Empty = same origin only. */
  QIAO_CORS_ORIGINS: list.optional(),
  /** Trust `X-Forwarded-*` from this many proxy hops (behind a load balancer). */
  QIAO_TRUST_PROXY: z.coerce.number().int().min(0).max(10).default(0),
  /** Largest accepted JSON body in bytes. */
  QIAO_BODY_LIMIT: z.coerce.number().int().min(1024).max(50 * 1024 * 1024).default(1024 * 1024),
  /** Bearer token that protects `/metrics`; required in production for it to answer. */
  QIAO_METRICS_TOKEN: z.string().min(16).optional(),
  /** DashScope (Bailian) API key; seeds a DashScope channel at start. */
  DASHSCOPE_API_KEY: z.string().optional(),
  /** DashScope host root; both the compatible and native paths are built from it. */
  DASHSCOPE_BASE_URL: z.string().url().default('https://dashscope.aliyuncs.com'),
  /** Moonshot (Kimi) API key; seeds a Moonshot channel at start. */
  MOONSHOT_API_KEY: z.string().optional(),
  /** Moonshot API base, including `/v1`. */
  MOONSHOT_BASE_URL: z.string().url().default('https://api.moonshot.cn/v1'),
  /** Hosts (comma-separated) an admin may point channels at even if they resolve to private addresses. */
  QIAO_UPSTREAM_ALLOWLIST: list.optional(),
  /**
   * How long a settled /v1 call may wait before its usage row and ledger entry are written, in a
   * batch with the others (ms; docs/adr/0004). Until then it is in the usage journal only.
   */
  QIAO_USAGE_FLUSH_MS: z.coerce.number().int().min(10).max(60_000).default(50),
  /** `auto` (default: run the built-in emulator when no provider key is set), `on` or `off`. */
  QIAO_EMULATOR: z.enum(['auto', 'on', 'off']).default('auto'),
})

export type Env = z.infer<typeof ENV_SCHEMA>

export interface Config extends Env {
  readonly isProduction: boolean
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
  }
}

/** Parses the environment once; throws ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Readonly<Config> {
  // Treat empty strings as unset so `FOO=` in a .env file means "default".
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''))
  const parsed = ENV_SCHEMA.safeParse(cleaned)
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`))
  }
  const cfg = parsed.data
  const problems: string[] = []
  if (cfg.NODE_ENV === 'production') {
    if (!cfg.QIAO_JWT_PRIVATE_KEY) problems.push('QIAO_JWT_PRIVATE_KEY: required in production')
    if (!cfg.QIAO_MASTER_KEY) problems.push('QIAO_MASTER_KEY: required in production')
    if (cfg.QIAO_MASTER_KEY && /^(change-?me|example|x+=*$)/i.test(cfg.QIAO_MASTER_KEY)) {
      problems.push('QIAO_MASTER_KEY: an example value; generate one with `openssl rand -base64 32`')
    }
    if (cfg.QIAO_ADMIN_PASSWORD && /^(change-?me|admin|password|example)/i.test(cfg.QIAO_ADMIN_PASSWORD)) {
      problems.push('QIAO_ADMIN_PASSWORD: a default/example value is refused in production')
    }
  }
  if (cfg.QIAO_MASTER_KEY && !isBase64Key(cfg.QIAO_MASTER_KEY)) {
    problems.push('QIAO_MASTER_KEY: must be 32 bytes in base64 (openssl rand -base64 32)')
  }
  for (const old of cfg.QIAO_MASTER_KEYS_OLD ?? []) {
    if (!isBase64Key(old)) problems.push('QIAO_MASTER_KEYS_OLD: every entry must be 32 bytes in base64')
  }
  if (problems.length) throw new ConfigError(problems)
  return Object.freeze({ ...cfg, isProduction: cfg.NODE_ENV === 'production' })
}

function isBase64Key(v: string): boolean {
  return /^[A-Za-z0-9+/]{43}=$/.test(v) && Buffer.from(v, 'base64').length === 32
}
