import { DEFAULT_CONVERSATION_TITLE, ERROR_CODES, outputTokenLimit, type Conversation, type ErrorCode, type Message, type MessagePart, type TurnUsage } from '@qiao/shared'
import type { Insertable, Transaction } from 'kysely'
import type { AppDeps } from '../../context'
import type { ApiCallsTable, Database } from '../../db/schema'
import { AppError, notFound } from '../../errors'
import { newId } from '../../ids'
import { type CallMeta, type ProviderRegistry, type ResolvedModel } from '../../providers/registry'
import { ProviderError, type ChatMessage, type Usage } from '../../providers/types'
import { buildContext } from './chat.context'
import { meterUsage, newRelayState, relayChat } from './metering'
import { createChatRepo, type FinalMessageFields, type MessageRow } from './chat.repo'
import { IdempotencyStore } from './idempotency'
import { estimatePromptTokens, estimateTokens, turnCost } from './tokens'

/**
 * The chat turn: store the user message, stream the answer from the provider registry, and
 * finalise the assistant message together with its `api_calls` row in one transaction.
 *
 * Invariants (SECURITY 1–3): the user message commits before any upstream call; the assistant
 * row starts `streaming` and always ends `complete`, `interrupted` or `error` with its partial
 * text; every turn leaves exactly one `api_calls` row (request id `chat:<assistant id>`, unique,
 * so a replayed finalisation or the restart sweeper can never add a second one).
 */

/** What chat needs from the conversations feature (features/conversations). */
export interface ConversationsPort {
  get(args: { userId: string; id: string }): Promise<Conversation>
  /** Rows of the current branch, root first; with `leafId`, the path through that message. */
  getBranchPath(args: { userId: string; conversationId: string; leafId?: string }): Promise<MessageRow[]>
  toMessageDto(row: MessageRow): Message
}

/** What chat needs from the files feature (features/files). */
export interface FilesPort {
  /** Throws NOT_FOUND unless every id is the caller's (SECURITY C4). */
  getOwnedFiles(args: { userId: string; ids: string[] }): Promise<Array<{ id: string; name: string; mime: string }>>
  readFile(args: { userId: string; id: string }): Promise<{ mime: string; bytes: Uint8Array }>
}

/** Everything the billing issue needs to reserve before, and settle after, the upstream call. */
export interface TurnStart {
  userId: string
  conversationId: string
  /** The api_calls request id this turn will settle under. */
  requestId: string
  model: ResolvedModel
  promptEstimate: number
}

export interface TurnSettlement extends TurnStart {
  apiCallId: string
  status: 'ok' | 'error' | 'interrupted'
  promptTokens: number
  completionTokens: number
  cost: number
}

/**
 * Seams for the balance reservation and the ledger (next issue). `beforeUpstream` runs in the
 * transaction that stores the user message, before any upstream call; throwing an AppError there
 * (e.g. INSUFFICIENT_BALANCE) rolls the messages back. `settle` runs inside the finalising
 * transaction, so usage row, message and ledger commit together or not at all.
 */
export interface ChatHooks {
  /** Before the transaction that stores the user message (outside it). */
  beforeTransaction?(userId: string): Promise<void>
  beforeUpstream(trx: Transaction<Database>, turn: TurnStart): Promise<void>
  settle(trx: Transaction<Database>, settlement: TurnSettlement): Promise<void>
}

export interface ChatServiceOptions {
  /** SSE heartbeat period. */
  heartbeatMs: number
  /** How long a full socket buffer may stay full before a slow reader is cut. */
  sseDrainTimeoutMs: number
  /** How often a live turn saves its partial text (and proves it is alive to the sweeper). */
  checkpointMs: number
  /** A `streaming` row untouched this long belongs to a dead process. */
  staleAfterMs: number
  /** Longest wait for live turns to finish on shutdown. */
  shutdownGraceMs: number
  idempotencyTtlMs: number
  hooks: ChatHooks
}

export const DEFAULT_CHAT_OPTIONS: ChatServiceOptions = {
  heartbeatMs: 15_000,
  sseDrainTimeoutMs: 30_000,
  checkpointMs: 3_000,
  staleAfterMs: 60_000,
  shutdownGraceMs: 10_000,
  idempotencyTtlMs: 10 * 60_000,
  hooks: { beforeUpstream: async () => {}, settle: async () => {} },
}

export type InterruptReason = 'client' | 'slow_reader' | 'shutdown'

export interface TurnInput {
  userId: string
  conversationId: string
  /** A new user message; absent when regenerating. */
  content?: string
  model?: string | undefined
  attachments?: string[] | undefined
  /** undefined: continue the current branch; null: a new first message; id: answer after that message (edit). */
  parentId?: string | null | undefined
  thinking?: boolean | undefined
  /** Regenerate the answer to this message (an assistant message or its user message). */
  regenerateOf?: string
  idempotencyKey?: string | undefined
}

export interface TurnSink {
  delta(delta: { text?: string; reasoning?: string }): Promise<unknown>
}

export interface TurnResult {
  status: 'complete' | 'interrupted' | 'error'
  userMessage: Message
  message: Message
  usage: TurnUsage
  /** Set for `error`, and for an interruption by shutdown: what the client is told. */
  error?: AppError
}

export interface PreparedTurn {
  userMessage: Message
  assistantMessage: Message
  run(sink: TurnSink): Promise<TurnResult>
  abort(reason: InterruptReason): void
}

/** Stored on a message stopped because this process shut down. */
export const SHUTDOWN_CODE: ErrorCode = 'SERVER_SHUTDOWN'
/** Stored by the sweeper on a message left `streaming` by a process that died. */
export const RESTART_CODE: ErrorCode = 'INTERRUPTED_BY_RESTART'

const PREVIEW_CHARS = 120
const TITLE_CHARS = 30

/** The abort reason a turn's controller carries, so the relay knows why it stopped. */
class TurnInterrupted extends Error {
  constructor(readonly reason: InterruptReason) {
    super(`turn interrupted: ${reason}`)
  }
}

/** Transient contention that a transaction retry fixes (SECURITY L2). */
function isRetryableTxError(err: unknown): boolean {
  const e = err as { code?: string; errno?: number }
  return (
    e?.code === 'SQLITE_BUSY' ||
    e?.code === 'SQLITE_BUSY_SNAPSHOT' ||
    e?.code === 'SQLITE_LOCKED' ||
    e?.code === 'ER_LOCK_DEADLOCK' ||
    e?.code === 'ER_LOCK_WAIT_TIMEOUT' ||
    e?.errno === 1213 ||
    e?.errno === 1205 ||
    e?.code === '40P01' ||
    e?.code === '40001'
  )
}

async function withTxRetry<T>(fn: () => Promise<T>, attempts = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn()
    } catch (err) {
      if (i >= attempts || !isRetryableTxError(err)) throw err
      await new Promise((r) => setTimeout(r, 20 * i + Math.floor(Math.random() * 20)))
    }
  }
}

/** Whole code points, so a cut never leaves half a surrogate pair (emoji) behind. */
export function previewOf(text: string): string {
  return Array.from(text.replace(/\s+/g, ' ').trim()).slice(0, PREVIEW_CHARS).join('')
}

/** A title from the first non-empty line of the first user message. */
export function titleFrom(text: string): string | undefined {
  const line = text
    .split(/\r?\n/)
    .map((l) => l.replace(/\s+/g, ' ').trim())
    .find((l) => l.length > 0)
  if (!line) return undefined
  const chars = [...line]
  return chars.length > TITLE_CHARS ? `${chars.slice(0, TITLE_CHARS - 1).join('').trimEnd()}…` : line
}

interface LiveTurn {
  abort(reason: InterruptReason): void
  finished: Promise<void>
}

export function createChatService(
  deps: AppDeps,
  s: { providers: ProviderRegistry; conversations: ConversationsPort; files: FilesPort },
  overrides: Partial<ChatServiceOptions> = {},
) {
  const { logger } = deps
  const options: ChatServiceOptions = { ...DEFAULT_CHAT_OPTIONS, ...overrides }
  const repo = createChatRepo(deps.db)
  const now = () => (deps.now ? deps.now() : new Date())
  const idempotency = new IdempotencyStore(options.idempotencyTtlMs)
  const live = new Set<LiveTurn>()
  let draining = false

  async function defaultModelId(): Promise<string> {
    const models = await s.providers.listModels()
    const first = models.find((m) => m.kind === 'chat')
    if (!first) throw new AppError('MODEL_NOT_FOUND', 'No chat model is available')
    return first.id
  }

  async function resolveChatModel(id: string): Promise<ResolvedModel> {
    const model = await s.providers.getModel(id)
    if (!model.enabled) throw new AppError('MODEL_DISABLED', `Model ${id} is disabled`)
    if (model.kind !== 'chat' && model.kind !== 'vision') {
      throw new AppError('VALIDATION_FAILED', `Model ${id} cannot chat`, { details: [{ path: '/model', message: `a ${model.kind} model` }] })
    }
    return model
  }

  const isVision = (m: ResolvedModel) => m.kind === 'vision' || m.capabilities.includes('vision')

  /** The path from the root to `id`, inclusive (the conversations feature may continue past it). */
  async function pathTo(userId: string, conversationId: string, id: string): Promise<MessageRow[]> {
    const path = await s.conversations.getBranchPath({ userId, conversationId, leafId: id })
    const at = path.findIndex((r) => r.id === id)
    return at >= 0 ? path.slice(0, at + 1) : path
  }

  async function findOwned(userId: string, conversationId: string, id: string): Promise<MessageRow> {
    const row = await repo.findMessage({ userId, conversationId, id })
    if (!row) throw notFound('Message')
    return row
  }

  async function prepare(input: TurnInput): Promise<PreparedTurn> {
    const key = input.idempotencyKey
    if (key) {
      const seen = idempotency.claim(input.userId, key)
      if (seen?.state === 'running') throw new AppError('CONFLICT', 'A request with this Idempotency-Key is still running')
      if (seen?.state === 'done') return replay(input, seen)
    }
    try {
      const turn = await prepareFresh(input)
      if (key) idempotency.complete(input.userId, key, { userMessageId: turn.userMessage.id, assistantMessageId: turn.assistantMessage.id })
      return turn
    } catch (err) {
      if (key) idempotency.release(input.userId, key)
      if (err instanceof AppError) throw err
      // Anything else before the upstream call is storage trouble: refuse without calling upstream (L1).
      logger.error({ err }, 'chat turn could not be stored')
      throw new AppError('SERVICE_UNAVAILABLE', 'Your message could not be saved; please try again shortly', { retryAfter: 5, cause: err })
    }
  }

  /** A repeated Idempotency-Key: answer with what the first request stored, no upstream call. */
  async function replay(input: TurnInput, seen: { userMessageId: string; assistantMessageId: string }): Promise<PreparedTurn> {
    const rows = await repo.findMessagesByIds([seen.userMessageId, seen.assistantMessageId])
    const userRow = rows.find((r) => r.id === seen.userMessageId && r.userId === input.userId)
    const assistantRow = rows.find((r) => r.id === seen.assistantMessageId && r.userId === input.userId)
    if (!userRow || !assistantRow) throw new AppError('CONFLICT', 'This Idempotency-Key was already used')
    if (assistantRow.status === 'streaming') throw new AppError('CONFLICT', 'A request with this Idempotency-Key is still running')
    const userMessage = s.conversations.toMessageDto(userRow)
    const message = s.conversations.toMessageDto(assistantRow)
    const status = assistantRow.status === 'complete' ? 'complete' : assistantRow.status === 'error' ? 'error' : 'interrupted'
    const result: TurnResult = {
      status,
      userMessage,
      message,
      usage: { promptTokens: assistantRow.promptTokens ?? 0, completionTokens: assistantRow.completionTokens ?? 0, cost: assistantRow.cost ?? 0 },
      ...(status === 'error'
        ? { error: new AppError(asErrorCode(assistantRow.errorCode), assistantRow.errorMessage ?? 'The answer failed') }
        : {}),
    }
    return { userMessage, assistantMessage: message, run: async () => result, abort: () => {} }
  }

  async function prepareFresh(input: TurnInput): Promise<PreparedTurn> {
    const { userId, conversationId } = input
    if (draining) throw new AppError('SERVICE_UNAVAILABLE', 'The server is restarting; please try again shortly', { retryAfter: 5 })
    // Ownership first: another user's conversation is 404 before anything is read or written (C2).
    const conversation = await s.conversations.get({ userId, id: conversationId })

    let existingUser: MessageRow | undefined
    let previousModel: string | null = null
    let parentId: string | null = null
    if (input.regenerateOf) {
      const target = await findOwned(userId, conversationId, input.regenerateOf)
      existingUser = target.role === 'user' ? target : target.parentId ? await findOwned(userId, conversationId, target.parentId) : undefined
      if (existingUser?.role !== 'user') {
        throw new AppError('VALIDATION_FAILED', 'Only an answer or the message it answers can be regenerated', { details: [{ path: '/messageId', message: 'not regenerable' }] })
      }
      if (target.role === 'assistant') previousModel = target.model
    } else if (input.parentId === undefined) {
      const branch = await s.conversations.getBranchPath({ userId, conversationId })
      parentId = branch.at(-1)?.id ?? null
    } else if (input.parentId !== null) {
      const parent = await findOwned(userId, conversationId, input.parentId)
      if (parent.role !== 'assistant') {
        throw new AppError('VALIDATION_FAILED', 'A message follows an answer', { details: [{ path: '/parentId', message: 'must be an assistant message' }] })
      }
      parentId = parent.id
    }

    const content = existingUser ? existingUser.content : (input.content ?? '')
    const attachments = existingUser ? [] : (input.attachments ?? [])
    if (!existingUser && content.trim().length === 0 && attachments.length === 0) {
      throw new AppError('VALIDATION_FAILED', 'The message is empty', { details: [{ path: '/content', message: 'required' }] })
    }

    const model = await resolveChatModel(input.model ?? conversation.model ?? previousModel ?? (await defaultModelId()))
    const vision = isVision(model)

    let parts: MessagePart[] = []
    if (attachments.length > 0) {
      if (!vision) {
        throw new AppError('VALIDATION_FAILED', `Model ${model.id} cannot read images`, { details: [{ path: '/attachments', message: 'needs a vision model' }] })
      }
      // Throws NOT_FOUND unless every file is the caller's (C4): nothing of another user reaches the prompt.
      const files = await s.files.getOwnedFiles({ userId, ids: attachments })
      if (files.some((f) => !f.mime.startsWith('image/'))) {
        throw new AppError('VALIDATION_FAILED', 'Only images can be attached', { details: [{ path: '/attachments', message: 'not an image' }] })
      }
      parts = files.map((f) => ({ type: 'image', fileId: f.id, url: `/api/files/${f.id}/content`, mime: f.mime, name: f.name }))
    }

    const at = now().toISOString()
    const userRow: MessageRow = existingUser ?? {
      id: newId(),
      conversationId,
      userId,
      parentId,
      role: 'user',
      content,
      parts: parts.length ? JSON.stringify(parts) : null,
      reasoning: null,
      model: null,
      status: 'complete',
      promptTokens: null,
      completionTokens: null,
      cost: null,
      errorCode: null,
      errorMessage: null,
      apiCallId: null,
      createdAt: at,
      updatedAt: at,
    }
    const assistantRow: MessageRow = {
      id: newId(),
      conversationId,
      userId,
      parentId: userRow.id,
      role: 'assistant',
      content: '',
      parts: null,
      reasoning: null,
      model: model.id,
      status: 'streaming',
      promptTokens: null,
      completionTokens: null,
      cost: null,
      errorCode: null,
      errorMessage: null,
      apiCallId: null,
      createdAt: at,
      updatedAt: at,
    }

    const history = existingUser
      ? await pathTo(userId, conversationId, existingUser.id)
      : [...(parentId ? await pathTo(userId, conversationId, parentId) : []), userRow]
    const context = await buildContext({
      systemPrompt: conversation.systemPrompt,
      path: history,
      vision,
      contextWindow: model.contextWindow,
      maxOutputTokens: model.maxOutputTokens,
      readImage: (fileId) => s.files.readFile({ userId, id: fileId }),
    })

    const start: TurnStart = { userId, conversationId, requestId: `chat:${assistantRow.id}`, model, promptEstimate: context.promptEstimate }
    await options.hooks.beforeTransaction?.(userId)
    await withTxRetry(() =>
      repo.transaction(async (trx) => {
        if (!existingUser) await repo.insertMessage(trx, userRow)
        await repo.insertMessage(trx, assistantRow)
        await repo.touchConversation(trx, { userId, id: conversationId, preview: previewOf(content), at })
        await options.hooks.beforeUpstream(trx, start)
      }),
    )

    const title = conversation.title === DEFAULT_CONVERSATION_TITLE ? titleFrom(content) : undefined
    return createTurn({ start, conversationId, userRow, assistantRow, messages: context.messages, thinking: input.thinking === true && model.capabilities.includes('thinking'), title })
  }

  function createTurn(t: {
    start: TurnStart
    conversationId: string
    userRow: MessageRow
    assistantRow: MessageRow
    messages: ChatMessage[]
    thinking: boolean
    title: string | undefined
  }): PreparedTurn {
    const controller = new AbortController()
    let reason: InterruptReason | undefined
    let settle!: () => void
    const finished = new Promise<void>((r) => (settle = r))
    const handle: LiveTurn = {
      abort(why) {
        if (reason) return
        reason = why
        controller.abort(new TurnInterrupted(why))
      },
      finished,
    }
    const userMessage = s.conversations.toMessageDto(t.userRow)
    let started = false

    async function run(sink: TurnSink): Promise<TurnResult> {
      if (started) throw new Error('a turn runs once')
      started = true
      live.add(handle)
      if (draining) handle.abort('shutdown')
      try {
        return await relay(sink)
      } finally {
        live.delete(handle)
        settle()
      }
    }

    async function relay(sink: TurnSink): Promise<TurnResult> {
      const startedAt = Date.now()
      const state = newRelayState()
      const checkpoint = setInterval(() => {
        // Also proves to the restart sweeper that this row is alive, hence written even when unchanged.
        repo
          .checkpoint({ id: t.assistantRow.id, content: state.text, reasoning: state.reasoning || null, at: now().toISOString() })
          .catch((err: unknown) => logger.warn({ err, messageId: t.assistantRow.id }, 'chat checkpoint failed'))
      }, options.checkpointMs)
      checkpoint.unref()

      try {
        if (!controller.signal.aborted) {
          const call = s.providers.chat(
            t.start.model.id,
            {
              messages: t.messages,
              stream: true,
              // Capped so the real cost can never exceed what billing reserved for the turn.
              maxTokens: outputTokenLimit(t.start.model),
              ...(t.thinking ? { thinking: true } : {}),
            },
            { signal: controller.signal },
          )
          await relayChat(call, state, {
            signal: controller.signal,
            startedAt,
            logger,
            // Only text and reasoning reach the browser (E3); tool calls are not part of the web chat.
            forward: (ev) =>
              ev.type === 'text' ? sink.delta({ text: ev.delta }) : ev.type === 'reasoning' ? sink.delta({ reasoning: ev.delta }) : Promise.resolve(),
          })
        }
      } finally {
        clearInterval(checkpoint)
      }
      const { text, reasoning, usage, meta, upstreamRequestId, ttftMs, failure } = state
      return finalize({ text, reasoning, usage, meta, upstreamRequestId, ttftMs, latencyMs: Date.now() - startedAt, failure })
    }

    async function finalize(r: {
      text: string
      reasoning: string
      usage: Usage | undefined
      meta: CallMeta | undefined
      upstreamRequestId: string | undefined
      ttftMs: number | null
      latencyMs: number
      failure: AppError | undefined
    }): Promise<TurnResult> {
      const model = t.start.model
      const interrupted = reason !== undefined
      const status: TurnResult['status'] = interrupted ? 'interrupted' : r.failure ? 'error' : 'complete'
      const { promptTokens, completionTokens, cachedTokens, reasoningTokens, usageEstimated, cost } = meterUsage({
        usage: r.usage,
        text: r.text,
        reasoning: r.reasoning,
        upstreamStarted: r.meta !== undefined,
        promptEstimate: t.start.promptEstimate,
        prices: model.prices,
      })

      let clientError: AppError | undefined
      let errorCode: string | null = null
      let errorMessage: string | null = null
      let httpStatus: number | null = 200
      if (status === 'error' && r.failure) {
        clientError = r.failure
        errorCode = r.failure.code
        errorMessage = r.failure.message.slice(0, 500)
        const cause = r.failure.cause
        httpStatus = cause instanceof ProviderError && cause.info.status ? cause.info.status : r.failure.status
      } else if (status === 'interrupted') {
        if (reason === 'shutdown') {
          clientError = new AppError('SERVICE_UNAVAILABLE', 'The server is restarting; the answer so far was saved', { retryAfter: 5 })
          errorCode = SHUTDOWN_CODE
          errorMessage = 'The server restarted while answering'
          httpStatus = 503
        } else {
          // 499: the client closed the request (nginx's convention).
          httpStatus = 499
        }
      }

      const apiCallId = newId()
      const at = now().toISOString()
      const fields: FinalMessageFields = {
        content: r.text,
        reasoning: r.reasoning || null,
        status,
        promptTokens,
        completionTokens,
        cost,
        errorCode,
        errorMessage,
        apiCallId,
        updatedAt: at,
      }
      const settlement: TurnSettlement = {
        ...t.start,
        apiCallId,
        status: status === 'complete' ? 'ok' : status === 'error' ? 'error' : 'interrupted',
        promptTokens,
        completionTokens,
        cost,
      }
      try {
        await withTxRetry(() =>
          repo.transaction(async (trx) => {
            if (await repo.findApiCall(trx, t.start.requestId)) return
            await repo.insertApiCall(trx, {
              id: apiCallId,
              requestId: t.start.requestId,
              userId: t.start.userId,
              apiKeyId: null,
              source: 'web',
              provider: r.meta?.provider ?? model.provider,
              channelId: r.meta?.channelId ?? null,
              model: model.id,
              endpoint: 'chat',
              status: settlement.status,
              httpStatus,
              errorCode,
              promptTokens,
              completionTokens,
              cachedTokens,
              reasoningTokens,
              images: 0,
              usageEstimated: usageEstimated ? 1 : 0,
              cost,
              latencyMs: r.latencyMs,
              ttftMs: r.ttftMs,
              upstreamRequestId: r.upstreamRequestId?.slice(0, 128) ?? null,
              createdAt: at,
            })
            // Already final (the sweeper got there first): roll back so there is one row, not two.
            if (!(await repo.finishMessage(trx, t.assistantRow.id, fields))) throw new AlreadyFinal()
            await repo.touchConversation(trx, {
              userId: t.start.userId,
              id: t.conversationId,
              preview: previewOf(r.text || t.userRow.content),
              at,
            })
            if (t.title) {
              await repo.setTitleIfDefault(trx, { userId: t.start.userId, id: t.conversationId, title: t.title, defaultTitle: DEFAULT_CONVERSATION_TITLE })
            }
            await options.hooks.settle(trx, settlement)
          }),
        )
      } catch (err) {
        if (!(err instanceof AlreadyFinal)) {
          // The row stays `streaming` with its last checkpoint; the sweeper finalises it later.
          logger.error({ err, messageId: t.assistantRow.id }, 'chat turn could not be finalised')
        }
      }

      const message = s.conversations.toMessageDto({ ...t.assistantRow, ...fields })
      return {
        status,
        userMessage,
        message,
        usage: { promptTokens, completionTokens, cost },
        ...(clientError ? { error: clientError } : {}),
      }
    }

    return {
      userMessage,
      assistantMessage: s.conversations.toMessageDto(t.assistantRow),
      run,
      abort: (why) => handle.abort(why),
    }
  }

  /**
   * Finalises `streaming` rows nobody has touched for `staleAfterMs` — left by a process that
   * died mid-turn (L3) — as `error`, keeping their checkpointed text, with an estimated
   * `api_calls` row unless one exists. Live turns checkpoint far more often, so they are never hit.
   */
  async function sweepStale(opts: { staleAfterMs?: number; limit?: number } = {}): Promise<number> {
    const before = new Date(now().getTime() - (opts.staleAfterMs ?? options.staleAfterMs)).toISOString()
    const rows = await repo.listStaleStreaming({ before, limit: opts.limit ?? 500 })
    let swept = 0
    for (const row of rows) {
      try {
        if (await sweepOne(row)) swept++
      } catch (err) {
        logger.error({ err, messageId: row.id }, 'could not sweep a stale streaming message')
      }
    }
    if (swept) logger.warn({ swept }, 'finalised chat answers left streaming by a previous process')
    return swept
  }

  async function sweepOne(row: MessageRow): Promise<boolean> {
    const model = await s.providers.getModel(row.model ?? '').catch(() => undefined)
    const parent = row.parentId ? await repo.findMessage({ userId: row.userId, conversationId: row.conversationId, id: row.parentId }) : undefined
    const produced = row.content.length > 0 || (row.reasoning?.length ?? 0) > 0
    const promptTokens = produced ? estimatePromptTokens([{ text: parent?.content ?? '' }]) : 0
    const completionTokens = estimateTokens(row.content) + estimateTokens(row.reasoning ?? '')
    const cost = model ? turnCost(model.prices, promptTokens, completionTokens) : 0
    const requestId = `chat:${row.id}`
    const at = now().toISOString()
    return withTxRetry(() =>
      repo.transaction(async (trx) => {
        const existing = await repo.findApiCall(trx, requestId)
        const apiCallId = existing?.id ?? newId()
        if (!existing) {
          await repo.insertApiCall(trx, {
            id: apiCallId,
            requestId,
            userId: row.userId,
            apiKeyId: null,
            source: 'web',
            provider: model?.provider ?? 'unknown',
            channelId: null,
            model: row.model ?? 'unknown',
            endpoint: 'chat',
            status: 'error',
            httpStatus: null,
            errorCode: RESTART_CODE,
            promptTokens,
            completionTokens,
            cachedTokens: 0,
            reasoningTokens: estimateTokens(row.reasoning ?? ''),
            images: 0,
            usageEstimated: produced ? 1 : 0,
            cost,
            latencyMs: null,
            ttftMs: null,
            upstreamRequestId: null,
            createdAt: at,
          })
        }
        const done = await repo.finishMessage(trx, row.id, {
          content: row.content,
          reasoning: row.reasoning,
          status: 'error',
          promptTokens,
          completionTokens,
          cost,
          errorCode: RESTART_CODE,
          errorMessage: 'The server restarted while answering',
          apiCallId,
          updatedAt: at,
        })
        if (!done) throw new AlreadyFinal()
        if (model) {
          await options.hooks.settle(trx, {
            userId: row.userId,
            conversationId: row.conversationId,
            requestId,
            model,
            promptEstimate: promptTokens,
            apiCallId,
            status: 'error',
            promptTokens,
            completionTokens,
            cost,
          })
        }
        return true
      }),
    ).catch((err: unknown) => {
      if (err instanceof AlreadyFinal) return false
      throw err
    })
  }

  /**
   * Graceful shutdown (M3): refuse new turns, stop every live one (each is stored `interrupted`
   * with its text and usage row, and its client gets a final `error` event), and wait for them,
   * at most `shutdownGraceMs`.
   */
  async function drain(): Promise<void> {
    draining = true
    const turns = [...live]
    for (const turn of turns) turn.abort('shutdown')
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.allSettled(turns.map((t) => t.finished)),
      new Promise<void>((r) => {
        timer = setTimeout(r, options.shutdownGraceMs)
      }),
    ])
    clearTimeout(timer)
  }

  /**
   * The finalising transaction for an upstream call outside a conversation (the /v1 gateway):
   * its `api_calls` row and `alongside` (the caller's settlement) commit together or not at all,
   * retried on contention. A request id that already has its row writes nothing: false.
   */
  async function recordApiCall(row: Insertable<ApiCallsTable>, alongside: (trx: Transaction<Database>) => Promise<void>): Promise<boolean> {
    return withTxRetry(() =>
      repo.transaction(async (trx) => {
        if (await repo.findApiCall(trx, row.requestId)) return false
        await repo.insertApiCall(trx, row)
        await alongside(trx)
        return true
      }),
    )
  }

  return {
    options,
    prepare,
    recordApiCall,
    sweepStale,
    drain,
    /** Turns relaying right now (tests and metrics). */
    liveCount: () => live.size,
  }
}

function asErrorCode(code: string | null): ErrorCode {
  return (ERROR_CODES as readonly string[]).includes(code ?? '') ? (code as ErrorCode) : 'UPSTREAM_UNAVAILABLE'
}

class AlreadyFinal extends Error {
  constructor() {
    super('message already final')
  }
}

export type ChatService = ReturnType<typeof createChatService>
