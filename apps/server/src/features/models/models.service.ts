import type { AdminModel, ModelInfo, UpdateModelBody } from '@qiao/shared'
import type { AppDeps } from '../../context'
import type { ModelsTable } from '../../db/schema'
import { notFound } from '../../errors'
import type { ProviderRegistry } from '../../providers/registry'
import { parseIds } from '../../providers/seed'
import type { AuditService } from '../audit/audit.service'
import type { Actor } from '../providers/providers.service'
import { createModelsRepo, type ModelRow } from './models.repo'

function adminView(m: ModelRow, served: Set<string>): AdminModel {
  return {
    id: m.id,
    provider: m.provider,
    kind: m.kind,
    // Admins see the stored name; users see it with the "emulated" suffix when that applies.
    displayName: m.displayName,
    capabilities: parseIds(m.capabilities) as AdminModel['capabilities'],
    contextWindow: m.contextWindow,
    prices: {
      ...(m.inputPrice !== null ? { inputPerMTok: Number(m.inputPrice) } : {}),
      ...(m.outputPrice !== null ? { outputPerMTok: Number(m.outputPrice) } : {}),
      ...(m.imagePrice !== null ? { perImage: Number(m.imagePrice) } : {}),
    },
    emulated: m.emulated === 1,
    upstreamModel: m.upstreamModel,
    maxOutputTokens: m.maxOutputTokens,
    priceSource: m.priceSource,
    enabled: m.enabled === 1,
    sortOrder: m.sortOrder,
    served: served.has(m.id),
    updatedAt: m.updatedAt,
  }
}

/** The model catalog: what users may pick, and the admin's edits to names, prices and availability. */
export function createModelsService(deps: AppDeps, s: { audit: Pick<AuditService, 'record'>; providers: ProviderRegistry }) {
  const repo = createModelsRepo(deps.db)
  const now = () => (deps.now ? deps.now() : new Date())

  return {
    /** Enabled models some enabled channel serves. */
    async list(): Promise<{ items: ModelInfo[] }> {
      return { items: await s.providers.listModels() }
    },

    async adminList(): Promise<{ items: AdminModel[] }> {
      const [rows, served] = await Promise.all([repo.listAll(), repo.servedIds()])
      return { items: rows.map((m) => adminView(m, served)) }
    },

    async update(id: string, body: UpdateModelBody, actor: Actor): Promise<AdminModel> {
      const row = await repo.find(id)
      if (!row) throw notFound('Model')
      const at = now()
      const patch: Partial<ModelsTable> = { updatedAt: at.toISOString() }
      if (body.enabled !== undefined) patch.enabled = body.enabled ? 1 : 0
      if (body.displayName !== undefined) patch.displayName = body.displayName
      if (body.contextWindow !== undefined) patch.contextWindow = body.contextWindow
      if (body.maxOutputTokens !== undefined) patch.maxOutputTokens = body.maxOutputTokens
      if (body.sortOrder !== undefined) patch.sortOrder = body.sortOrder
      if (body.prices) {
        if (body.prices.inputPerMTok !== undefined) patch.inputPrice = body.prices.inputPerMTok
        if (body.prices.outputPerMTok !== undefined) patch.outputPrice = body.prices.outputPerMTok
        if (body.prices.perImage !== undefined) patch.imagePrice = body.prices.perImage
        // A price an admin typed is no longer the seed's guess: say who set it and when.
        patch.priceSource = body.priceSource ?? `set by an admin, ${at.toISOString().slice(0, 10)}`
      } else if (body.priceSource !== undefined) {
        patch.priceSource = body.priceSource
      }
      await repo.update(id, patch)
      s.providers.invalidate()
      await s.audit.record({
        actorId: actor.id,
        ip: actor.ip,
        userAgent: actor.userAgent,
        action: 'model.updated',
        targetType: 'model',
        targetId: id,
        details: { changes: body },
      })
      const served = await repo.servedIds()
      return adminView((await repo.find(id))!, served)
    },
  }
}

export type ModelsService = ReturnType<typeof createModelsService>
