import type { App } from '../../app'
import type { AppDeps } from '../../context'

/**
 * Creates the first admin on an empty database (SECURITY.md A5). A generated password is shown
 * exactly once, on the console in a banner — never in structured logs, which are shipped and kept.
 */
export async function bootstrapAdmin(app: Pick<App, 'services'>, deps: Pick<AppDeps, 'logger'>): Promise<void> {
  const created = await app.services.auth.bootstrapAdmin()
  if (!created) return
  deps.logger.warn({ email: created.email }, 'created the first admin account')
  if (created.generatedPassword) {
    const line = '='.repeat(72)
    console.log(
      [
        '',
        line,
        '  Qiao: first admin account created / 已创建首个管理员账号',
        `  email:    ${created.email}`,
        `  password: ${created.generatedPassword}`,
        '  This password is shown only once. Sign in and change it now.',
        '  此密码只显示一次，请立即登录并修改。',
        line,
        '',
      ].join('\n'),
    )
  }
}
