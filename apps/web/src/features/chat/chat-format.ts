import { EMULATED_SUFFIX, type Conversation, type ModelInfo } from '@qiao/shared'
import type { TFunction } from 'i18next'

/** Money from the API is integer micro-yuan (1e-6 CNY). */
const MICRO = 1_000_000

/** "¥0.8", "¥0.000123", "¥12.5": as many decimals as the amount needs, up to micro-yuan. */
export function formatYuan(micro: number): string {
  const yuan = micro / MICRO
  return `¥${new Intl.NumberFormat('en', { maximumFractionDigits: 6, useGrouping: false }).format(yuan)}`
}

/** The price facts of a model, as short strings; undefined where the catalogue has no price. */
export function modelPrices(model: Pick<ModelInfo, 'prices'>): { input?: string; output?: string; image?: string } {
  const { inputPerMTok, outputPerMTok, perImage } = model.prices
  return {
    ...(inputPerMTok !== undefined ? { input: formatYuan(inputPerMTok) } : {}),
    ...(outputPerMTok !== undefined ? { output: formatYuan(outputPerMTok) } : {}),
    ...(perImage !== undefined ? { image: formatYuan(perImage) } : {}),
  }
}

/** An emulated model's name without the server's EMULATED_SUFFIX, for places that label it as emulated themselves. */
export function bareModelName(model: Pick<ModelInfo, 'displayName' | 'emulated'>): string {
  const { displayName } = model
  return model.emulated && displayName.endsWith(EMULATED_SUFFIX) ? displayName.slice(0, -EMULATED_SUFFIX.length) : displayName
}

/**
 * A model's name as plain text, in the UI's language: an emulated one says so exactly once
 * ("Qwen-Plus（模拟）", "Qwen-Plus (emulated)"). Where an emulated tag sits beside the name, use
 * bareModelName instead.
 */
export function modelLabel(model: Pick<ModelInfo, 'displayName' | 'emulated'>, t: TFunction): string {
  const name = bareModelName(model)
  return model.emulated ? t('chat.emulatedName', { name }) : name
}

export const canChat = (m: ModelInfo) => m.kind === 'chat' || m.kind === 'vision'
export const canSee = (m: ModelInfo | undefined) => !!m && (m.kind === 'vision' || m.capabilities.includes('vision'))
export const canThink = (m: ModelInfo | undefined) => !!m && m.capabilities.includes('thinking')

export type ConversationGroup = 'pinned' | 'today' | 'week' | 'earlier'

/**
 * The sidebar's sections: pinned first, then by the last activity in the viewer's local time —
 * today, the 7 days before, and everything older. Order inside a section is the server's.
 */
export function groupConversations(
  items: Conversation[],
  now: Date = new Date(),
): Array<{ group: ConversationGroup; items: Conversation[] }> {
  const startOfToday = new Date(now.getFullYear(), now.getMonth(), now.getDate()).getTime()
  const weekAgo = startOfToday - 7 * 24 * 60 * 60 * 1000
  const groups: Record<ConversationGroup, Conversation[]> = { pinned: [], today: [], week: [], earlier: [] }
  for (const c of items) {
    const at = Date.parse(c.updatedAt)
    if (c.pinned) groups.pinned.push(c)
    else if (at >= startOfToday) groups.today.push(c)
    else if (at >= weekAgo) groups.week.push(c)
    else groups.earlier.push(c)
  }
  return (['pinned', 'today', 'week', 'earlier'] as const)
    .filter((g) => groups[g].length > 0)
    .map((group) => ({ group, items: groups[group] }))
}
