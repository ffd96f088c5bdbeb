import type { AuditLog, AuditLogQuery, AuditSeverity } from '@qiao/shared'
import type { AppDeps } from '../../context'
import { newId } from '../../ids'
import { createAuditRepo, type AuditRow } from './audit.repo'

export interface AuditEntry {
  /** Who did it; null for anonymous actions (a failed login for an unknown account). */
  actorId?: string | null
  /** Dotted verb, e.g. `auth.login_failed`, `user.role_changed`. */
  action: string
  targetType?: string
  targetId?: string
  severity?: AuditSeverity
  ip?: string
  userAgent?: string
  /** Extra facts; keys that look like secrets are replaced before storing. */
  details?: Record<string, unknown>
}

// Defence in depth: a caller that passes a password or token by mistake still stores nothing secret.
const SECRET_KEY = /(password|secret|token|authorization|cookie)/i

function scrub(value: unknown, depth = 0): unknown {
  if (depth > 4 || value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1))
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? '[redacted]' : scrub(v, depth + 1)
  return out
}

const clip = (v: string | undefined, max: number) => (v === undefined ? null : v.slice(0, max))

function toAuditLog(row: AuditRow): AuditLog {
  let details: Record<string, unknown> | null = null
  if (row.details) {
    try {
      details = JSON.parse(row.details) as Record<string, unknown>
    } catch {
      details = { raw: row.details }
    }
  }
  return {
    id: row.id,
    actorId: row.actorId,
    action: row.action,
    targetType: row.targetType,
    targetId: row.targetId,
    severity: row.severity,
    ip: row.ip,
    userAgent: row.userAgent,
    details,
    createdAt: row.createdAt,
  }
}

/** The audit trail: security-relevant events and every admin write (API.md "Admin"). */
export function createAuditService(deps: AppDeps) {
  const repo = createAuditRepo(deps.db)
  const now = () => (deps.now ? deps.now() : new Date())
  return {
    /** Writes one row. Awaited by callers so a security event is stored before the answer goes out. */
    async record(entry: AuditEntry): Promise<void> {
      const at = now()
      await repo.insert({
        id: newId(at.getTime()),
        actorId: entry.actorId ?? null,
        action: entry.action.slice(0, 64),
        targetType: clip(entry.targetType, 32),
        targetId: clip(entry.targetId, 40),
        severity: entry.severity ?? 'info',
        ip: clip(entry.ip, 64),
        userAgent: clip(entry.userAgent, 255),
        details: entry.details ? JSON.stringify(scrub(entry.details)) : null,
        createdAt: at.toISOString(),
      })
    },

    async list(query: AuditLogQuery): Promise<{ items: AuditLog[]; nextCursor: string | null }> {
      const rows = await repo.list({
        ...(query.action ? { action: query.action } : {}),
        ...(query.actorId ? { actorId: query.actorId } : {}),
        ...(query.cursor ? { before: query.cursor } : {}),
        limit: query.limit + 1,
      })
      const page = rows.slice(0, query.limit)
      return { items: page.map(toAuditLog), nextCursor: rows.length > query.limit ? page[page.length - 1]!.id : null }
    },
  }
}
export type AuditService = ReturnType<typeof createAuditService>
