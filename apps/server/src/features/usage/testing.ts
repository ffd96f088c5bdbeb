import { randomBytes } from 'node:crypto'
import type { Db } from '../../db/kysely'
import type { ApiCallsTable } from '../../db/schema'
import { newId } from '../../ids'

/** Test factory: `api_calls` rows written straight to the database. Not imported by production code. */
export function apiCallRow(overrides: Partial<ApiCallsTable> & Pick<ApiCallsTable, 'userId'>): ApiCallsTable {
  const createdAt = overrides.createdAt ?? new Date().toISOString()
  return {
    id: newId(Date.parse(createdAt)),
    requestId: `req_${randomBytes(12).toString('hex')}`,
    apiKeyId: null,
    source: 'web',
    provider: 'dashscope',
    channelId: null,
    model: 'qwen-plus',
    endpoint: 'chat',
    status: 'ok',
    httpStatus: 200,
    errorCode: null,
    promptTokens: 10,
    completionTokens: 20,
    cachedTokens: 0,
    reasoningTokens: 0,
    images: 0,
    usageEstimated: 0,
    cost: 100,
    latencyMs: 500,
    ttftMs: 100,
    upstreamRequestId: null,
    ...overrides,
    createdAt,
  }
}

/** Inserts rows in chunks (SQLite caps the number of bound parameters per statement). */
export async function insertApiCalls(db: Db, rows: ApiCallsTable[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 200) await db.kysely.insertInto('apiCalls').values(rows.slice(i, i + 200)).execute()
}
