import type { Generated } from 'kysely'

/**
 * The database as TypeScript sees it (camelCase; the CamelCasePlugin maps to snake_case columns).
 * Portable conventions, the same on SQLite, MySQL/MariaDB and PostgreSQL:
 * - ids are 36-char strings made by `newId()`; never auto-increment.
 * - timestamps are ISO-8601 UTC strings (`2026-11-22T02:50:53.123Z`): they sort and compare as text.
 * - booleans are integers 0/1; JSON is text. Map both in the repo, nowhere else.
 * - money is an integer number of micro-yuan (1e-6 CNY) in a BIGINT column.
 */
export type Bool = 0 | 1

export interface UsersTable {
  id: string
  email: string
  username: string | null
  phone: string | null
  displayName: string | null
  passwordHash: string
  role: 'user' | 'admin'
  status: 'active' | 'disabled'
  /** Bumped to invalidate every access token of the user at once (disable, password change). */
  tokenVersion: number
  failedLoginCount: number
  lockedUntil: string | null
  balance: number
  /**
   * Sum of the user's `held` credit reservations (migration 0003); available = balance − reserved.
   * Optional only so inserts may omit it (the column defaults to 0); it is always present on reads.
   */
  reserved?: number
  /** JSON of Preferences. */
  preferences: string
  createdAt: string
  updatedAt: string
}

export interface RefreshTokensTable {
  id: string
  userId: string
  /** All tokens of one sign-in share a family; a session is a family. */
  familyId: string
  /** SHA-256 of the token; the token itself is never stored. */
  tokenHash: string
  status: 'active' | 'rotated' | 'revoked'
  device: string | null
  ip: string | null
  createdAt: string
  lastUsedAt: string
  expiresAt: string
  revokedAt: string | null
  revokedReason: string | null
}

export interface ApiKeysTable {
  id: string
  userId: string
  name: string
  /** Lookup prefix shown to the user (`sk-qiao-abcd1234`). */
  prefix: string
  /** SHA-256 of the whole secret. */
  keyHash: string
  /** JSON array of model ids, or null for "every model the user may use". */
  allowedModels: string | null
  monthlyLimit: number | null
  status: 'active' | 'revoked'
  expiresAt: string | null
  lastUsedAt: string | null
  createdAt: string
  revokedAt: string | null
}

export interface ProviderChannelsTable {
  id: string
  type: 'dashscope' | 'moonshot' | 'openai-compatible'
  name: string
  baseUrl: string
  /** JSON array of model ids this channel serves. */
  models: string
  weight: number
  priority: number
  enabled: Bool
  /** 1 when the channel points at the built-in emulator. */
  emulated: Bool
  /** `env` (seeded from the environment, URL trusted), `admin` (URL passes the SSRF guard), `emulator`. */
  source: 'env' | 'admin' | 'emulator'
  /** JSON of adapter options (e.g. which usage form to expect). */
  options: string
  lastError: string | null
  createdAt: string
  updatedAt: string
}

export interface ProviderKeysTable {
  id: string
  channelId: string
  /** `base64(nonce|ciphertext|tag)` under the master key `masterKeyId`. */
  ciphertext: string
  masterKeyId: string
  /** `sk-…a1b2`; the only part of a key ever shown. */
  hint: string
  status: 'active' | 'disabled'
  disabledReason: string | null
  lastError: string | null
  lastUsedAt: string | null
  nextProbeAt: string | null
  createdAt: string
  updatedAt: string
}

export interface ModelsTable {
  /** The public id users pick (`qwen-plus`). */
  id: string
  /** The name sent upstream. */
  upstreamModel: string
  provider: 'dashscope' | 'moonshot' | 'openai-compatible'
  kind: 'chat' | 'vision' | 'image' | 'embedding' | 'speech'
  displayName: string
  /** JSON array of capabilities. */
  capabilities: string
  contextWindow: number
  maxOutputTokens: number | null
  /** micro-yuan per million tokens / per image. */
  inputPrice: number | null
  outputPrice: number | null
  imagePrice: number | null
  /** Where the price came from and when (`[U] protocols/README.md §9, 2026-11`). */
  priceSource: string | null
  enabled: Bool
  emulated: Bool
  sortOrder: number
  createdAt: string
  updatedAt: string
}

export interface ConversationsTable {
  id: string
  userId: string
  title: string
  model: string | null
  systemPrompt: string | null
  pinned: Bool
  archived: Bool
  lastMessagePreview: string | null
  createdAt: string
  updatedAt: string
}

export interface MessagesTable {
  id: string
  conversationId: string
  userId: string
  parentId: string | null
  role: 'system' | 'user' | 'assistant'
  content: string
  /** JSON array of parts (images, files) or null. */
  parts: string | null
  reasoning: string | null
  model: string | null
  status: 'complete' | 'streaming' | 'interrupted' | 'error'
  promptTokens: number | null
  completionTokens: number | null
  cost: number | null
  errorCode: string | null
  errorMessage: string | null
  apiCallId: string | null
  createdAt: string
  updatedAt: string
}

export interface ApiCallsTable {
  id: string
  /** Unique per upstream request: settlement is keyed on it, so a replay is a no-op. */
  requestId: string
  userId: string
  apiKeyId: string | null
  source: 'web' | 'api'
  provider: string
  channelId: string | null
  model: string
  endpoint: string
  status: 'ok' | 'error' | 'interrupted'
  httpStatus: number | null
  errorCode: string | null
  promptTokens: number
  completionTokens: number
  cachedTokens: number
  reasoningTokens: number
  images: number
  /** 1 when the upstream sent no usage and tokens were estimated. */
  usageEstimated: Bool
  cost: number
  latencyMs: number | null
  ttftMs: number | null
  upstreamRequestId: string | null
  createdAt: string
}

export interface CreditLedgerTable {
  id: string
  userId: string
  /** Signed micro-yuan. */
  delta: number
  balanceAfter: number
  reason: 'signup' | 'usage' | 'admin_adjust' | 'topup' | 'redeem' | 'refund'
  /** Unique reference (`usage:<requestId>`, `order:<id>`): a replay inserts nothing. */
  ref: string
  note: string | null
  actorId: string | null
  createdAt: string
}

export interface CreditReservationsTable {
  id: string
  userId: string
  requestId: string
  amount: number
  status: 'held' | 'settled' | 'released'
  createdAt: string
  expiresAt: string
  settledAt: string | null
}

export interface OrdersTable {
  id: string
  userId: string
  channel: 'alipay' | 'wechat'
  /** What the user pays, in fen (1/100 CNY), as payment providers count. */
  amountFen: number
  /** What gets credited, in micro-yuan. */
  creditAmount: number
  status: 'pending' | 'paid' | 'closed' | 'failed'
  outTradeNo: string
  providerTradeNo: string | null
  createdAt: string
  updatedAt: string
  paidAt: string | null
}

export interface RedeemCodesTable {
  id: string
  /** SHA-256 of the code. */
  codeHash: string
  hint: string
  amount: number
  status: 'active' | 'redeemed' | 'disabled'
  createdBy: string | null
  redeemedBy: string | null
  redeemedAt: string | null
  expiresAt: string | null
  createdAt: string
}

export interface ImageTasksTable {
  id: string
  userId: string
  conversationId: string | null
  model: string
  prompt: string
  negativePrompt: string | null
  size: string | null
  n: number
  status: 'pending' | 'running' | 'succeeded' | 'failed'
  upstreamTaskId: string | null
  channelId: string | null
  /** JSON array of `{ fileId }` / `{ error }`. */
  images: string
  idempotencyKey: string | null
  errorCode: string | null
  errorMessage: string | null
  apiCallId: string | null
  createdAt: string
  updatedAt: string
  finishedAt: string | null
}

export interface FilesTable {
  id: string
  userId: string
  name: string
  mime: string
  size: number
  storageKey: string
  sha256: string
  createdAt: string
}

export interface AuditLogsTable {
  id: string
  actorId: string | null
  action: string
  targetType: string | null
  targetId: string | null
  severity: 'info' | 'warning' | 'high'
  ip: string | null
  userAgent: string | null
  /** JSON; never secrets. */
  details: string | null
  createdAt: string
}

export interface SettingsTable {
  key: string
  /** JSON. */
  value: string
  updatedAt: string
  updatedBy: string | null
}

export interface UsageDailyTable {
  day: string
  userId: string
  model: string
  calls: number
  promptTokens: number
  completionTokens: number
  images: number
  cost: number
}

export interface Database {
  users: UsersTable
  refreshTokens: RefreshTokensTable
  apiKeys: ApiKeysTable
  providerChannels: ProviderChannelsTable
  providerKeys: ProviderKeysTable
  models: ModelsTable
  conversations: ConversationsTable
  messages: MessagesTable
  apiCalls: ApiCallsTable
  creditLedger: CreditLedgerTable
  creditReservations: CreditReservationsTable
  orders: OrdersTable
  redeemCodes: RedeemCodesTable
  imageTasks: ImageTasksTable
  files: FilesTable
  auditLogs: AuditLogsTable
  settings: SettingsTable
  usageDaily: UsageDailyTable
}

// Kysely's Generated is re-exported for repos that need it later.
export type { Generated }
