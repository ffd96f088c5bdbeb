import type { AdminUpdateUserBody, AdminUser, AdminUserQuery } from '@qiao/shared'
import type { AppDeps, AuthUser } from '../../context'
import { AppError, notFound } from '../../errors'
import type { AuditService } from '../audit/audit.service'
import { toUser, type AuthService } from '../auth/auth.service'
import { createUsersRepo } from './users.repo'

export interface ActorContext {
  ip: string
  userAgent?: string | undefined
}

/** Admin management of accounts. Every write is audited. */
export function createUsersService(
  deps: AppDeps,
  { audit, auth, apiKeys: keyCache }: { audit: AuditService; auth: AuthService; apiKeys?: { forgetUser(userId: string): void } },
) {
  const repo = createUsersRepo(deps.db)
  const now = () => (deps.now ? deps.now() : new Date())

  async function view(id: string): Promise<AdminUser> {
    const row = await repo.findById(id)
    if (!row) throw notFound('User')
    const usage = (await repo.usageTotals([id])).get(id) ?? { calls: 0, cost: 0 }
    return { ...toUser(row), updatedAt: row.updatedAt, usage }
  }

  return {
    async list(query: AdminUserQuery): Promise<{ items: AdminUser[]; nextCursor: string | null }> {
      const rows = await repo.list({
        ...(query.q ? { q: query.q } : {}),
        ...(query.role ? { role: query.role } : {}),
        ...(query.status ? { status: query.status } : {}),
        ...(query.cursor ? { before: query.cursor } : {}),
        limit: query.limit + 1,
      })
      const page = rows.slice(0, query.limit)
      const usage = await repo.usageTotals(page.map((r) => r.id))
      return {
        items: page.map((r) => ({
          ...toUser(r),
          updatedAt: r.updatedAt,
          usage: usage.get(r.id) ?? { calls: 0, cost: 0 },
        })),
        nextCursor: rows.length > query.limit ? page[page.length - 1]!.id : null,
      }
    },

    get: view,

    /**
     * Role and status changes. An admin cannot demote or disable themselves (so the last admin
     * cannot lock everyone out). Disabling ends every session and API key at once.
     */
    async update(actor: AuthUser, id: string, body: AdminUpdateUserBody, ctx: ActorContext): Promise<AdminUser> {
      const row = await repo.findById(id)
      if (!row) throw notFound('User')
      if (id === actor.id && ((body.role && body.role !== row.role) || (body.status && body.status !== row.status))) {
        throw new AppError('CONFLICT', 'You cannot change your own role or status')
      }
      const at = now().toISOString()
      const base = { actorId: actor.id, targetType: 'user', targetId: id, ip: ctx.ip, userAgent: ctx.userAgent }
      if (body.role && body.role !== row.role) {
        await repo.setRole(id, body.role, at)
        await audit.record({
          ...base,
          action: 'user.role_changed',
          severity: 'high',
          details: { from: row.role, to: body.role },
        })
      }
      if (body.status && body.status !== row.status) {
        await repo.setStatus(id, body.status, at)
        let sessions = 0
        let apiKeys = 0
        if (body.status === 'disabled') {
          sessions = await auth.revokeAllSessions(id, 'disabled')
          apiKeys = await repo.revokeApiKeys(id, at)
          // Authentication caches keys briefly; a disabled user's keys must stop working at once (A6).
          keyCache?.forgetUser(id)
        }
        await audit.record({
          ...base,
          action: body.status === 'disabled' ? 'user.disabled' : 'user.enabled',
          severity: 'warning',
          details: body.status === 'disabled' ? { sessionsRevoked: sessions, apiKeysRevoked: apiKeys } : {},
        })
      }
      return view(id)
    },
  }
}
export type UsersService = ReturnType<typeof createUsersService>
