import { EMULATED_SUFFIX, type Capability, type ModelInfo, type ModelKind } from '@qiao/shared'
import type { Dispatcher } from 'undici'
import type { AppDeps } from '../context'
import type { AuditService } from '../features/audit/audit.service'
import type { ProviderChannelsTable, ProviderKeysTable } from '../db/schema'
import { AppError } from '../errors'
import { createGuardedDispatcher, type Resolver } from '../platform/ssrf'
import { createVault, providerKeyAad, VaultError } from '../platform/vault'
import { ADAPTERS } from './adapters'
import { downloadBytes } from './http'
import { parseIds } from './seed'
import {
  ProviderError,
  type ChatEvent,
  type ChatRequest,
  type EmbeddingRequest,
  type EmbeddingResult,
  type ImageRequest,
  type ImageTaskResult,
  type ProviderAdapter,
  type ProviderKind,
  type UpstreamContext,
} from './types'

/**
 * The one door from features to upstream models. It resolves a public model id to the channels
 * that serve it, picks a channel (priority, then weighted random) and a key, and fails over before
 * the first token: to the next key of the channel, then to the next channel. A key that answers
 * 401/403 is disabled and re-probed later; a channel that keeps failing opens a circuit breaker.
 * Once a stream has produced anything, nothing is retried.
 */

export interface ResolvedModel {
  id: string
  upstreamModel: string
  provider: ProviderKind
  kind: ModelKind
  displayName: string
  capabilities: Capability[]
  contextWindow: number
  maxOutputTokens: number | null
  prices: { inputPerMTok?: number; outputPerMTok?: number; perImage?: number }
  enabled: boolean
  emulated: boolean
}

/** Which upstream served a call: for usage rows and billing. */
export interface CallMeta {
  provider: ProviderKind
  channelId: string
  keyId: string
  upstreamModel: string
  emulated: boolean
  model: ResolvedModel
  /** Upstream attempts made, failovers included. */
  attempts: number
}

export interface ChatHandle {
  /** Normalised events; failover happens while waiting for the first one. Throws AppError. */
  events: AsyncIterable<ChatEvent>
  /** Resolves once a channel has produced the first event; rejects only if `events` does. */
  meta: Promise<CallMeta>
}

interface Channel {
  id: string
  type: ProviderKind
  name: string
  baseUrl: string
  models: string[]
  weight: number
  priority: number
  emulated: boolean
  source: ProviderChannelsTable['source']
  options: Record<string, unknown>
}

type KeyRow = Pick<ProviderKeysTable, 'id' | 'channelId' | 'ciphertext' | 'masterKeyId' | 'hint' | 'status'>

interface Snapshot {
  at: number
  models: Map<string, ResolvedModel>
  channels: Channel[]
  keys: Map<string, KeyRow[]>
}

export interface BreakerOptions {
  /** Consecutive-ish failures inside `windowMs` that open the circuit. */
  failureThreshold: number
  windowMs: number
  /** How long an open circuit skips the channel before letting one trial request through. */
  cooldownMs: number
}

export type BreakerState = 'closed' | 'open' | 'half_open'

interface Breaker {
  state: BreakerState
  failures: number[]
  openedAt: number
  trialInFlight: boolean
}

export interface RegistryOptions {
  adapters?: Partial<Record<ProviderKind, ProviderAdapter>>
  breaker?: Partial<BreakerOptions>
  /** How long channel/model/key rows are cached (admin writes invalidate at once on this instance). */
  cacheTtlMs?: number
  /** How long a decrypted key stays in memory. */
  keyCacheTtlMs?: number
  /** When a key disabled for auth failure is next probed. */
  reprobeAfterMs?: number
  random?: () => number
  /** Resolver for the guarded dispatcher (tests). */
  resolve?: Resolver
  /** Where key disable/re-enable events are recorded. */
  audit?: Pick<AuditService, 'record'>
}

const DEFAULT_BREAKER: BreakerOptions = { failureThreshold: 5, windowMs: 60_000, cooldownMs: 30_000 }

/** The one mapping from upstream failure kinds to API error codes. */
export function providerErrorToAppError(err: ProviderError): AppError {
  const retryAfter = err.info.retryAfterMs !== undefined ? Math.ceil(err.info.retryAfterMs / 1000) : undefined
  const cause = { cause: err }
  switch (err.kind) {
    case 'rate_limited':
      return new AppError('UPSTREAM_RATE_LIMITED', 'The model provider is busy; please try again shortly', { ...cause, retryAfter: retryAfter ?? 5 })
    case 'auth_failed':
      return new AppError('UPSTREAM_AUTH_FAILED', 'The model provider rejected our credentials; an administrator has been notified', cause)
    case 'quota_exceeded':
      return new AppError('UPSTREAM_UNAVAILABLE', 'The model provider account is out of quota; please try again later', cause)
    case 'bad_request':
      return new AppError('UPSTREAM_BAD_REQUEST', `The model provider refused the request: ${scrub(err.message)}`, cause)
    case 'not_found':
      return new AppError('MODEL_NOT_FOUND', 'The model provider does not know this model', cause)
    case 'content_filtered':
      return new AppError('UPSTREAM_CONTENT_FILTERED', 'The request or answer was blocked by the provider’s content policy', cause)
    case 'upstream_unavailable':
      return new AppError('UPSTREAM_UNAVAILABLE', 'The model provider is unavailable; please try again later', cause)
    case 'timeout':
      return new AppError('UPSTREAM_TIMEOUT', 'The model provider took too long to answer', cause)
  }
}

/** Any thrown thing as an AppError: AppErrors pass, ProviderErrors are mapped, the rest are INTERNAL. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err
  if (err instanceof ProviderError) return providerErrorToAppError(err)
  return new AppError('INTERNAL', 'Something went wrong on our side', { cause: err })
}

/** Upstream text may echo a key (even masked); strip anything key-shaped before showing it. */
function scrub(text: string): string {
  return text.replace(/\b(sk|ak|key)-[A-Za-z0-9_*.-]{3,}/gi, '[redacted]').slice(0, 300)
}

function parseOptions(json: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(json)
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}

function parseCapabilities(json: string): Capability[] {
  return parseIds(json) as Capability[]
}

const KIND_FOR_OP = {
  chat: ['chat', 'vision'] as ModelKind[],
  image: ['image'] as ModelKind[],
  embed: ['embedding'] as ModelKind[],
}
type Op = keyof typeof KIND_FOR_OP

export function createProviderRegistry(deps: AppDeps, options: RegistryOptions = {}) {
  const { db, logger } = deps
  const adapters: Partial<Record<ProviderKind, ProviderAdapter>> = { ...ADAPTERS, ...options.adapters }
  const breakerOpts: BreakerOptions = { ...DEFAULT_BREAKER, ...options.breaker }
  const cacheTtlMs = options.cacheTtlMs ?? 10_000
  const keyCacheTtlMs = options.keyCacheTtlMs ?? 60_000
  const reprobeAfterMs = options.reprobeAfterMs ?? 30 * 60_000
  const random = options.random ?? Math.random
  const now = () => (deps.now ? deps.now() : new Date())
  const vault = createVault(deps.masterKeys)
  const audit = options.audit

  let snapshot: Snapshot | undefined
  let loading: Promise<Snapshot> | undefined
  const plainKeys = new Map<string, { ciphertext: string; plain: string; until: number }>()
  const breakers = new Map<string, Breaker>()
  let guarded: Dispatcher | undefined

  function invalidate(): void {
    snapshot = undefined
    loading = undefined
    plainKeys.clear()
  }

  async function load(): Promise<Snapshot> {
    const [modelRows, channelRows, keyRows] = await Promise.all([
      db.kysely.selectFrom('models').selectAll().execute(),
      db.kysely.selectFrom('providerChannels').selectAll().where('enabled', '=', 1).execute(),
      db.kysely
        .selectFrom('providerKeys')
        .select(['id', 'channelId', 'ciphertext', 'masterKeyId', 'hint', 'status'])
        .where('status', '=', 'active')
        .orderBy('id')
        .execute(),
    ])
    const models = new Map<string, ResolvedModel>()
    for (const m of modelRows) {
      models.set(m.id, {
        id: m.id,
        upstreamModel: m.upstreamModel,
        provider: m.provider,
        kind: m.kind,
        displayName: m.emulated ? `${m.displayName}${EMULATED_SUFFIX}` : m.displayName,
        capabilities: parseCapabilities(m.capabilities),
        contextWindow: m.contextWindow,
        maxOutputTokens: m.maxOutputTokens,
        prices: {
          ...(m.inputPrice !== null ? { inputPerMTok: Number(m.inputPrice) } : {}),
          ...(m.outputPrice !== null ? { outputPerMTok: Number(m.outputPrice) } : {}),
          ...(m.imagePrice !== null ? { perImage: Number(m.imagePrice) } : {}),
        },
        enabled: m.enabled === 1,
        emulated: m.emulated === 1,
      })
    }
    const keys = new Map<string, KeyRow[]>()
    for (const k of keyRows) keys.set(k.channelId, [...(keys.get(k.channelId) ?? []), k])
    const channels = channelRows.map<Channel>((c) => ({
      id: c.id,
      type: c.type,
      name: c.name,
      baseUrl: c.baseUrl,
      models: parseIds(c.models),
      weight: c.weight,
      priority: c.priority,
      emulated: c.emulated === 1,
      source: c.source,
      options: parseOptions(c.options),
    }))
    return { at: Date.now(), models, channels, keys }
  }

  async function current(): Promise<Snapshot> {
    if (snapshot && Date.now() - snapshot.at < cacheTtlMs) return snapshot
    loading ??= load().then(
      (s) => {
        snapshot = s
        loading = undefined
        return s
      },
      (err: unknown) => {
        loading = undefined
        throw err
      },
    )
    return loading
  }

  // ── circuit breaker (per instance: each instance judges its own view of the upstream) ──
  function breakerOf(channelId: string): Breaker {
    let b = breakers.get(channelId)
    if (!b) {
      b = { state: 'closed', failures: [], openedAt: 0, trialInFlight: false }
      breakers.set(channelId, b)
    }
    return b
  }

  function breakerState(channelId: string): BreakerState {
    const b = breakers.get(channelId)
    if (!b) return 'closed'
    if (b.state === 'open' && now().getTime() - b.openedAt >= breakerOpts.cooldownMs) return 'half_open'
    return b.state
  }

  /** Whether a request may use the channel now; in half-open, only one trial at a time. */
  function breakerAllows(channelId: string): boolean {
    const b = breakerOf(channelId)
    if (b.state === 'closed') return true
    if (b.state === 'open') {
      if (now().getTime() - b.openedAt < breakerOpts.cooldownMs) return false
      b.state = 'half_open'
      b.trialInFlight = false
    }
    if (b.trialInFlight) return false
    b.trialInFlight = true
    return true
  }

  function breakerSuccess(channelId: string): void {
    const b = breakerOf(channelId)
    if (b.state !== 'closed') logger.info({ channelId }, 'upstream channel recovered; circuit closed')
    b.state = 'closed'
    b.failures = []
    b.trialInFlight = false
  }

  function breakerFailure(channelId: string): void {
    const b = breakerOf(channelId)
    const t = now().getTime()
    if (b.state === 'half_open') {
      b.state = 'open'
      b.openedAt = t
      b.trialInFlight = false
      logger.warn({ channelId }, 'upstream channel still failing; circuit re-opened')
      return
    }
    b.failures = [...b.failures.filter((f) => t - f < breakerOpts.windowMs), t]
    if (b.state === 'closed' && b.failures.length >= breakerOpts.failureThreshold) {
      b.state = 'open'
      b.openedAt = t
      logger.warn({ channelId, failures: b.failures.length }, 'upstream channel keeps failing; circuit opened')
    }
  }

  /** Leaves the channel without a verdict (key problems, aborts): frees a half-open trial slot. */
  function breakerRelease(channelId: string): void {
    const b = breakers.get(channelId)
    if (b?.state === 'half_open') b.trialInFlight = false
  }

  // ── ordering ──
  function ordered(channels: Channel[]): Channel[] {
    // Most models have one channel: nothing to order (and no random draw to make).
    if (channels.length === 1) return channels
    const groups = new Map<number, Channel[]>()
    for (const c of channels) groups.set(c.priority, [...(groups.get(c.priority) ?? []), c])
    const out: Channel[] = []
    // Higher priority first; inside a priority, a weighted random order (each pick ∝ weight).
    for (const p of [...groups.keys()].sort((a, b) => b - a)) {
      const scored = groups.get(p)!.map((c) => ({ c, score: c.weight > 0 ? Math.pow(random(), 1 / c.weight) : -1 }))
      scored.sort((a, b) => b.score - a.score)
      out.push(...scored.map((s) => s.c))
    }
    return out
  }

  function dispatcherFor(channel: Channel): Dispatcher | undefined {
    // Env and emulator URLs come from the operator; admin-typed URLs go through the SSRF guard.
    if (channel.source !== 'admin') return undefined
    guarded ??= createGuardedDispatcher({
      allowlist: deps.config.QIAO_UPSTREAM_ALLOWLIST,
      ...(options.resolve ? { resolve: options.resolve } : {}),
    })
    return guarded
  }

  function contextFor(channel: Channel, apiKey: string, signal: AbortSignal | undefined): UpstreamContext {
    const dispatcher = dispatcherFor(channel)
    return {
      baseUrl: channel.baseUrl,
      apiKey,
      options: channel.options,
      ...(signal ? { signal } : {}),
      ...(dispatcher ? { dispatcher } : {}),
    }
  }

  // ── keys ──
  async function disableKey(key: KeyRow, reason: string, lastError: string | null, probe: boolean): Promise<void> {
    const at = now()
    await db.kysely
      .updateTable('providerKeys')
      .set({
        status: 'disabled',
        disabledReason: reason.slice(0, 255),
        lastError: lastError ? scrub(lastError).slice(0, 512) : null,
        nextProbeAt: probe ? new Date(at.getTime() + reprobeAfterMs).toISOString() : null,
        updatedAt: at.toISOString(),
      })
      .where('id', '=', key.id)
      .execute()
    plainKeys.delete(key.id)
    snapshot = undefined
    logger.warn({ channelId: key.channelId, keyId: key.id, keyHint: key.hint, reason }, 'provider key disabled')
    await auditSafe({
      action: 'provider.key.disabled',
      targetType: 'provider_key',
      targetId: key.id,
      severity: 'warning',
      details: { channelId: key.channelId, hint: key.hint, reason },
    })
  }

  async function auditSafe(entry: {
    action: string
    targetType?: string
    targetId?: string
    severity?: 'info' | 'warning' | 'high'
    details?: Record<string, unknown>
  }): Promise<void> {
    try {
      await audit?.record({ actorId: null, ...entry })
    } catch (err) {
      logger.error({ err: err instanceof Error ? err.message : 'unknown' }, 'audit write failed')
    }
  }

  /** The plain key for one call: cached briefly, re-encrypted lazily when under an old master key. */
  async function reveal(key: KeyRow): Promise<string> {
    const cached = plainKeys.get(key.id)
    if (cached && cached.ciphertext === key.ciphertext && cached.until > Date.now()) return cached.plain
    const plain = vault.decrypt(key, providerKeyAad(key.id))
    plainKeys.set(key.id, { ciphertext: key.ciphertext, plain, until: Date.now() + keyCacheTtlMs })
    if (vault.isStale(key.masterKeyId)) {
      const sealed = vault.encrypt(plain, providerKeyAad(key.id))
      // Only if nobody rewrote the row meanwhile (the rotation command or an admin).
      await db.kysely
        .updateTable('providerKeys')
        .set({ ciphertext: sealed.ciphertext, masterKeyId: sealed.masterKeyId, updatedAt: now().toISOString() })
        .where('id', '=', key.id)
        .where('ciphertext', '=', key.ciphertext)
        .execute()
      snapshot = undefined
    }
    return plain
  }

  /**
   * `last_used_at` is for the admin's eyes: written at most once a minute per key, not once per
   * call — a database write on every upstream call would be the gateway's largest cost.
   */
  const touchedAt = new Map<string, number>()
  async function touchKey(key: KeyRow): Promise<void> {
    const at = Date.now()
    if (at - (touchedAt.get(key.id) ?? 0) < 60_000) return
    touchedAt.set(key.id, at)
    await db.kysely
      .updateTable('providerKeys')
      .set({ lastUsedAt: now().toISOString() })
      .where('id', '=', key.id)
      .execute()
  }

  // ── models ──
  async function resolveModel(modelId: string, op: Op): Promise<{ model: ResolvedModel; channels: Channel[]; snap: Snapshot }> {
    const snap = await current()
    const model = snap.models.get(modelId)
    if (!model) throw new AppError('MODEL_NOT_FOUND', `Model ${modelId} does not exist`)
    if (!model.enabled) throw new AppError('MODEL_DISABLED', `Model ${modelId} is disabled`)
    if (!KIND_FOR_OP[op].includes(model.kind)) {
      throw new AppError('VALIDATION_FAILED', `Model ${modelId} cannot be used for this request`, {
        details: [{ path: '/model', message: `a ${model.kind} model` }],
      })
    }
    const channels = snap.channels.filter((c) => c.models.includes(modelId))
    return { model, channels, snap }
  }

  /**
   * Runs `attempt` on candidates in order until one succeeds. `attempt` returns once the call has
   * committed (for a stream: its first event arrived). Errors thrown by `attempt` decide failover.
   */
  async function withFailover<T>(
    modelId: string,
    op: Op,
    signal: AbortSignal | undefined,
    attempt: (adapter: ProviderAdapter, ctx: UpstreamContext, model: ResolvedModel) => Promise<T>,
    policy: { failoverOnTimeout: boolean } = { failoverOnTimeout: true },
  ): Promise<{ value: T; meta: CallMeta }> {
    const { model, channels, snap } = await resolveModel(modelId, op)
    if (channels.length === 0) throw new AppError('UPSTREAM_UNAVAILABLE', `No provider is configured for ${modelId}`)
    let attempts = 0
    let skippedOpen = 0
    let lastError: ProviderError | undefined
    for (const channel of ordered(channels)) {
      const adapter = adapters[channel.type]
      if (!adapter) continue
      if (!breakerAllows(channel.id)) {
        skippedOpen++
        continue
      }
      let verdict = false
      for (const key of snap.keys.get(channel.id) ?? []) {
        if (signal?.aborted) {
          breakerRelease(channel.id)
          throw signal.reason
        }
        let apiKey: string
        try {
          apiKey = await reveal(key)
        } catch (err) {
          if (!(err instanceof VaultError)) throw err
          // A key that fails authentication is never used: disabled for good, no probe.
          await disableKey(key, 'decrypt_failed', null, false)
          await db.kysely
            .updateTable('providerChannels')
            .set({ lastError: `key ${key.hint} failed to decrypt`, updatedAt: now().toISOString() })
            .where('id', '=', channel.id)
            .execute()
          continue
        }
        attempts++
        try {
          const value = await attempt(adapter, contextFor(channel, apiKey, signal), model)
          breakerSuccess(channel.id)
          verdict = true
          void touchKey(key).catch(() => undefined)
          return {
            value,
            meta: { provider: channel.type, channelId: channel.id, keyId: key.id, upstreamModel: model.upstreamModel, emulated: channel.emulated, model, attempts },
          }
        } catch (err) {
          if (signal?.aborted || !(err instanceof ProviderError)) {
            breakerRelease(channel.id)
            throw err
          }
          lastError = err
          logger.warn(
            { modelId, channelId: channel.id, keyId: key.id, kind: err.kind, status: err.info.status, upstreamCode: err.info.upstreamCode },
            'upstream attempt failed',
          )
          if (err.info.afterFirstToken) {
            breakerRelease(channel.id)
            throw providerErrorToAppError(err)
          }
          switch (err.kind) {
            case 'auth_failed':
              await disableKey(key, `auth_failed${err.info.status ? ` (HTTP ${err.info.status})` : ''}`, err.message, true)
              continue
            case 'quota_exceeded':
            case 'rate_limited':
              // The account behind this key is out of quota or throttled; another key may not be.
              continue
            case 'timeout':
              breakerFailure(channel.id)
              verdict = true
              if (!policy.failoverOnTimeout) throw providerErrorToAppError(err)
              break
            case 'upstream_unavailable':
              breakerFailure(channel.id)
              verdict = true
              break
            case 'bad_request':
            case 'content_filtered':
            case 'not_found':
              // The channel answered; the request itself is the problem. Another channel won't fix it.
              breakerSuccess(channel.id)
              throw providerErrorToAppError(err)
          }
          // Stop trying this channel's keys once its circuit has opened.
          if (breakerOf(channel.id).state === 'open') break
        }
      }
      if (!verdict) breakerRelease(channel.id)
    }
    if (lastError) throw providerErrorToAppError(lastError)
    if (skippedOpen > 0) {
      throw new AppError('UPSTREAM_UNAVAILABLE', 'The model provider is temporarily unavailable; please try again shortly', {
        retryAfter: Math.ceil(breakerOpts.cooldownMs / 1000),
      })
    }
    throw new AppError('UPSTREAM_UNAVAILABLE', `No working provider key is configured for ${modelId}`)
  }

  function chat(modelId: string, req: Omit<ChatRequest, 'model'>, opts: { signal?: AbortSignal } = {}): ChatHandle {
    let resolveMeta!: (m: CallMeta) => void
    let rejectMeta!: (e: unknown) => void
    const meta = new Promise<CallMeta>((res, rej) => {
      resolveMeta = res
      rejectMeta = rej
    })
    // Consumers that only iterate `events` must not see an unhandled rejection here.
    meta.catch(() => undefined)

    async function* run(): AsyncGenerator<ChatEvent, void, undefined> {
      let committed: { iterator: AsyncIterator<ChatEvent>; buffered: ChatEvent[]; meta: CallMeta }
      try {
        const { value, meta: m } = await withFailover(modelId, 'chat', opts.signal, async (adapter, ctx, model) => {
          const iterator = adapter.chat({ ...req, model: model.upstreamModel }, ctx)[Symbol.asyncIterator]()
          const buffered: ChatEvent[] = []
          // `start` carries no content; hold it back so a failover does not show two starts.
          for (;;) {
            const next = await iterator.next()
            if (next.done) return { iterator, buffered }
            buffered.push(next.value)
            if (next.value.type !== 'start') return { iterator, buffered }
          }
        })
        committed = { iterator: value.iterator, buffered: value.buffered, meta: m }
      } catch (err) {
        rejectMeta(err)
        throw toAppErrorUnlessAbort(err, opts.signal)
      }
      resolveMeta(committed.meta)
      for (const ev of committed.buffered) yield ev
      const last = committed.buffered[committed.buffered.length - 1]
      if (last?.type === 'done') return
      // Whether the upstream iterator ran to its end (or failed): then there is nothing to close.
      let ended = false
      try {
        for (;;) {
          const next = await committed.iterator.next()
          if (next.done) {
            ended = true
            return
          }
          yield next.value
        }
      } catch (err) {
        ended = true
        // After the first event nothing is retried: the error goes to the caller as it is.
        if (err instanceof ProviderError && (err.kind === 'upstream_unavailable' || err.kind === 'timeout')) {
          breakerFailure(committed.meta.channelId)
        }
        throw toAppErrorUnlessAbort(err, opts.signal)
      } finally {
        // The consumer stopped early (client gone): close the upstream stream.
        if (!ended) await committed.iterator.return?.().catch(() => undefined)
      }
    }
    return { events: run(), meta }
  }

  async function createImageTask(
    modelId: string,
    req: Omit<ImageRequest, 'model'>,
    opts: { signal?: AbortSignal } = {},
  ): Promise<{ result: ImageTaskResult; meta: CallMeta }> {
    try {
      const { value, meta } = await withFailover(
        modelId,
        'image',
        opts.signal,
        (adapter, ctx, model) => {
          if (!adapter.createImageTask) throw new ProviderError('not_found', `${adapter.kind} has no image tasks`)
          return adapter.createImageTask({ ...req, model: model.upstreamModel }, ctx)
        },
        // A timed-out create may have created the task upstream: failing over could bill twice.
        { failoverOnTimeout: false },
      )
      return { result: value, meta }
    } catch (err) {
      throw toAppErrorUnlessAbort(err, opts.signal)
    }
  }

  /** Polls a task on the channel that created it (tasks live in one upstream account). */
  async function getImageTask(
    ref: { channelId: string; keyId?: string | null },
    taskId: string,
    opts: { signal?: AbortSignal } = {},
  ): Promise<ImageTaskResult> {
    const channelRow = await db.kysely.selectFrom('providerChannels').selectAll().where('id', '=', ref.channelId).executeTakeFirst()
    if (!channelRow) throw new AppError('UPSTREAM_UNAVAILABLE', 'The channel that created this task no longer exists')
    const adapter = adapters[channelRow.type]
    if (!adapter?.getImageTask) throw new AppError('UPSTREAM_UNAVAILABLE', 'This channel cannot report image tasks')
    const keys = await db.kysely
      .selectFrom('providerKeys')
      .select(['id', 'channelId', 'ciphertext', 'masterKeyId', 'hint', 'status'])
      .where('channelId', '=', ref.channelId)
      .where('status', '=', 'active')
      .execute()
    keys.sort((a, b) => (a.id === ref.keyId ? -1 : b.id === ref.keyId ? 1 : 0))
    const channel: Channel = {
      id: channelRow.id,
      type: channelRow.type,
      name: channelRow.name,
      baseUrl: channelRow.baseUrl,
      models: parseIds(channelRow.models),
      weight: channelRow.weight,
      priority: channelRow.priority,
      emulated: channelRow.emulated === 1,
      source: channelRow.source,
      options: parseOptions(channelRow.options),
    }
    let lastError: unknown = new AppError('UPSTREAM_UNAVAILABLE', 'No working provider key for this task')
    for (const key of keys) {
      try {
        return await adapter.getImageTask(taskId, contextFor(channel, await reveal(key), opts.signal))
      } catch (err) {
        lastError = err
        if (err instanceof ProviderError && (err.kind === 'auth_failed' || err.kind === 'quota_exceeded')) continue
        break
      }
    }
    throw toAppErrorUnlessAbort(lastError, opts.signal)
  }

  async function embed(
    modelId: string,
    req: Omit<EmbeddingRequest, 'model'>,
    opts: { signal?: AbortSignal } = {},
  ): Promise<{ result: EmbeddingResult; meta: CallMeta }> {
    try {
      const { value, meta } = await withFailover(modelId, 'embed', opts.signal, (adapter, ctx, model) => {
        if (!adapter.embed) throw new ProviderError('not_found', `${adapter.kind} has no embeddings`)
        return adapter.embed({ ...req, model: model.upstreamModel }, ctx)
      })
      return { result: value, meta }
    } catch (err) {
      throw toAppErrorUnlessAbort(err, opts.signal)
    }
  }

  /**
   * Downloads a file a channel's task produced (a Wanx image), for copying into our storage. A
   * URL on the channel's own operator-configured host (the emulator) connects as the channel
   * does; any other host — the provider's storage, or whatever an upstream names — goes through
   * the SSRF guard. No key is sent; size and time are capped.
   */
  async function downloadResult(
    ref: { channelId: string },
    url: string,
    opts: { maxBytes: number; timeoutMs: number; signal?: AbortSignal },
  ): Promise<{ bytes: Buffer; contentType: string | undefined }> {
    const channel = (await current()).channels.find((c) => c.id === ref.channelId)
    let sameHost = false
    try {
      sameHost = channel !== undefined && new URL(url).origin === new URL(channel.baseUrl).origin
    } catch {
      sameHost = false
    }
    guarded ??= createGuardedDispatcher({
      allowlist: deps.config.QIAO_UPSTREAM_ALLOWLIST,
      ...(options.resolve ? { resolve: options.resolve } : {}),
    })
    const dispatcher = sameHost && channel ? dispatcherFor(channel) : guarded
    try {
      return await downloadBytes(url, { ...opts, dispatcher })
    } catch (err) {
      throw toAppErrorUnlessAbort(err, opts.signal)
    }
  }

  function toAppErrorUnlessAbort(err: unknown, signal: AbortSignal | undefined): unknown {
    // A caller's own abort is not an upstream failure; hand it back untouched.
    if (signal?.aborted) return err
    return toAppError(err)
  }

  /** Enabled models that at least one enabled channel serves, in catalog order. */
  async function listModels(): Promise<ModelInfo[]> {
    const snap = await current()
    const served = new Set(snap.channels.flatMap((c) => c.models))
    const rows = await db.kysely.selectFrom('models').select(['id', 'sortOrder']).where('enabled', '=', 1).execute()
    return rows
      .filter((r) => served.has(r.id))
      .sort((a, b) => a.sortOrder - b.sortOrder || a.id.localeCompare(b.id))
      .map((r) => snap.models.get(r.id))
      .filter((m): m is ResolvedModel => m !== undefined)
      .map((m) => ({
        id: m.id,
        provider: m.provider,
        kind: m.kind,
        displayName: m.displayName,
        capabilities: m.capabilities,
        contextWindow: m.contextWindow,
        prices: m.prices,
        emulated: m.emulated,
      }))
  }

  async function getModel(modelId: string): Promise<ResolvedModel> {
    const snap = await current()
    const model = snap.models.get(modelId)
    if (!model) throw new AppError('MODEL_NOT_FOUND', `Model ${modelId} does not exist`)
    return model
  }

  /**
   * Tests one key with the cheapest call its channel allows (a 1-token chat, or a one-word
   * embedding). Success re-enables a key disabled for an auth failure; a 401/403 disables it.
   */
  async function probeKey(keyId: string): Promise<{ ok: boolean; latencyMs: number; error?: { code: string; message: string } }> {
    const key = await db.kysely
      .selectFrom('providerKeys')
      .select(['id', 'channelId', 'ciphertext', 'masterKeyId', 'hint', 'status', 'disabledReason'])
      .where('id', '=', keyId)
      .executeTakeFirst()
    if (!key) throw new AppError('NOT_FOUND', 'Key not found')
    const channelRow = await db.kysely.selectFrom('providerChannels').selectAll().where('id', '=', key.channelId).executeTakeFirst()
    if (!channelRow) throw new AppError('NOT_FOUND', 'Channel not found')
    const adapter = adapters[channelRow.type]
    const snap = await current()
    const served = parseIds(channelRow.models).map((id) => snap.models.get(id)).filter((m): m is ResolvedModel => !!m)
    const chatModel = served.find((m) => m.kind === 'chat' || m.kind === 'vision')
    const embedModel = served.find((m) => m.kind === 'embedding')
    const channel: Channel = {
      id: channelRow.id,
      type: channelRow.type,
      name: channelRow.name,
      baseUrl: channelRow.baseUrl,
      models: served.map((m) => m.id),
      weight: channelRow.weight,
      priority: channelRow.priority,
      emulated: channelRow.emulated === 1,
      source: channelRow.source,
      options: parseOptions(channelRow.options),
    }
    const started = Date.now()
    let plain: string
    try {
      plain = vault.decrypt(key, providerKeyAad(key.id))
    } catch {
      return { ok: false, latencyMs: 0, error: { code: 'DECRYPT_FAILED', message: 'The stored key cannot be decrypted; enter it again' } }
    }
    const ctx: UpstreamContext = { ...contextFor(channel, plain, undefined), retry: { maxRetries: 0 } }
    try {
      if (!adapter) throw new ProviderError('not_found', 'no adapter')
      if (chatModel) {
        for await (const _ of adapter.chat(
          { model: chatModel.upstreamModel, messages: [{ role: 'user', content: 'ping' }], maxTokens: 1, stream: false },
          ctx,
        )) {
          // Drain: the answer itself does not matter, only that the key was accepted.
        }
      } else if (embedModel && adapter.embed) {
        await adapter.embed({ model: embedModel.upstreamModel, input: ['ping'] }, ctx)
      } else {
        return { ok: false, latencyMs: 0, error: { code: 'NO_CHEAP_PROBE', message: 'This channel serves no chat or embedding model to test with' } }
      }
    } catch (err) {
      const latencyMs = Date.now() - started
      const mapped = toAppError(err)
      if (err instanceof ProviderError && err.kind === 'auth_failed') {
        if (key.status === 'active') {
          await disableKey(key, `auth_failed${err.info.status ? ` (HTTP ${err.info.status})` : ''}`, err.message, true)
        } else {
          await db.kysely
            .updateTable('providerKeys')
            .set({ nextProbeAt: new Date(now().getTime() + reprobeAfterMs).toISOString(), lastError: scrub(err.message), updatedAt: now().toISOString() })
            .where('id', '=', key.id)
            .execute()
        }
      } else {
        await db.kysely
          .updateTable('providerKeys')
          .set({ lastError: scrub(mapped.message).slice(0, 512), updatedAt: now().toISOString() })
          .where('id', '=', key.id)
          .execute()
      }
      return { ok: false, latencyMs, error: { code: mapped.code, message: mapped.message } }
    }
    const latencyMs = Date.now() - started
    // A key disabled by an admin stays disabled; one disabled for auth failure comes back.
    const revive = key.status === 'disabled' && (key.disabledReason ?? '').startsWith('auth_failed')
    await db.kysely
      .updateTable('providerKeys')
      .set({
        ...(revive ? { status: 'active' as const, disabledReason: null, nextProbeAt: null } : {}),
        lastError: null,
        updatedAt: now().toISOString(),
      })
      .where('id', '=', key.id)
      .execute()
    if (revive) {
      logger.info({ keyId: key.id, keyHint: key.hint }, 'provider key works again; re-enabled')
      await auditSafe({ action: 'provider.key.reenabled', targetType: 'provider_key', targetId: key.id, details: { hint: key.hint } })
    }
    invalidate()
    return { ok: true, latencyMs }
  }

  /** Probes every key disabled for an auth failure whose probe time has come. */
  async function probeDueKeys(): Promise<number> {
    const due = await db.kysely
      .selectFrom('providerKeys')
      .select('id')
      .where('status', '=', 'disabled')
      .where('disabledReason', 'like', 'auth_failed%')
      .where('nextProbeAt', '<=', now().toISOString())
      .execute()
    for (const k of due) await probeKey(k.id)
    return due.length
  }

  return {
    chat,
    createImageTask,
    getImageTask,
    embed,
    downloadResult,
    listModels,
    getModel,
    probeKey,
    probeDueKeys,
    breakerState,
    invalidate,
    async close(): Promise<void> {
      await guarded?.close()
      guarded = undefined
    },
  }
}

export type ProviderRegistry = ReturnType<typeof createProviderRegistry>
