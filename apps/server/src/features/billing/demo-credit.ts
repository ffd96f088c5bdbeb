import type { AppDeps } from '../../context'
import type { BillingService } from './billing.service'
import type { SettingsService } from '../settings/settings.service'
import type { UsersService } from '../users/users.service'

/** ¥10 of credit for the offline demo, in micro-yuan. */
export const DEMO_CREDIT = 10_000_000

/** True when the built-in emulator answers instead of real providers (see providers/seed.ts). */
export function emulatorServesModels(config: AppDeps['config']): boolean {
  if (config.QIAO_EMULATOR === 'off') return false
  return config.QIAO_EMULATOR === 'on' || (!config.DASHSCOPE_API_KEY && !config.MOONSHOT_API_KEY)
}

/**
 * The offline demo (`npm start` with no provider key) would be useless if every account started at
 * ¥0 and every turn answered 402. When — and only when — the emulator serves the models, new accounts
 * get ¥10 of credit (stored as the `defaultBalance` setting unless an admin already chose one) and each
 * admin gets the same once (ledger ref `demo:<id>`, so restarts never credit twice). Emulated
 * credit buys emulated answers; real providers never trigger this.
 */
export async function grantDemoCredit(
  deps: Pick<AppDeps, 'config' | 'logger'>,
  s: { settings: SettingsService; billing: BillingService; users: UsersService },
): Promise<void> {
  if (!emulatorServesModels(deps.config)) return
  if (await s.settings.ensureDefaultBalance(DEMO_CREDIT)) {
    deps.logger.info({ defaultBalance: DEMO_CREDIT }, 'offline demo: new accounts start with ¥10 of emulated credit')
  }
  const { items } = await s.users.list({ role: 'admin', limit: 100 })
  for (const admin of items) {
    await s.billing.credit({ userId: admin.id, delta: DEMO_CREDIT, reason: 'signup', ref: `demo:${admin.id}`, note: 'Offline demo credit' })
  }
}
