import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { zhCN as zh } from '../apps/web/src/i18n/zh-CN'
import {
  apiCall,
  fundAccountsAndRaiseAuthLimit,
  loginFirstAdmin,
  startServerAndBrowser,
  stopServerAndBrowser,
  type RunningServer,
} from './harness'
import { chartDrawn, newPage, registerInPage, shot, signInInPage, switchToDarkTheme } from './pages'

let server: RunningServer
let browser: Browser
let admin: { email: string; password: string; token: string }
let chatModel: string

beforeAll(async () => {
  ;({ server, browser } = await startServerAndBrowser())
  admin = await loginFirstAdmin(server)
  // New accounts can pay for a turn; page loads in this file stay under the per-IP auth limit.
  await fundAccountsAndRaiseAuthLimit(server, admin.token)
  const models = await apiCall<{ items: Array<{ id: string; kind: string }> }>(
    server,
    'GET',
    '/api/models',
    admin.token,
  )
  chatModel = models.json.items.find((m) => m.kind === 'chat')!.id
})

afterAll(() => stopServerAndBrowser({ server, browser }))

/** The visible antd confirm dialog's primary button. */
const confirmButton = (page: Page) =>
  page.locator('.ant-modal-confirm .ant-btn-primary, .ant-modal-confirm .ant-btn-dangerous')

describe('admin console', () => {
  it('lets an admin adjust a balance and disable a signed-in user, who is signed out at once', async () => {
    // A user with markup in their name is signed in, in their own browser, and has used a model.
    const hostile = '<img src=x onerror="window.__pwned=1">小明'
    const user = await newPage(browser)
    const { email, token } = await registerInPage(server, user.page, 'victim', {
      displayName: hostile,
      landOn: 'user-menu',
    })
    const convo = await apiCall<{ id: string }>(server, 'POST', '/api/conversations', token, { model: chatModel })
    const turn = await apiCall(server, 'POST', `/api/conversations/${convo.json.id}/messages`, token, {
      content: '你好',
      model: chatModel,
    })
    expect(turn.status).toBe(200)

    // The admin opens the console: the dashboard draws the platform charts and the channel table.
    const { context, page, problems } = await newPage(browser)
    await signInInPage(server, page, admin, { landOn: 'user-menu' })
    await page.getByRole('menuitem', { name: zh.nav.admin }).click()
    await page.waitForURL('**/admin')
    await page.getByTestId('admin-dashboard').waitFor()
    for (const id of ['admin-chart-daily', 'admin-chart-models', 'admin-chart-users']) await chartDrawn(page, id)
    await page.getByTestId('channel-stats').locator('tbody tr.ant-table-row').first().waitFor()
    await shot(page, 'admin-dashboard-light.png')

    // Users: find the account. Its name shows as text; the markup never runs (SECURITY E4).
    await page.getByRole('tab', { name: zh.admin.tabs.users }).click()
    await page.waitForURL('**/admin/users')
    await page.getByTestId('user-search').locator('input').fill(email)
    await page.getByTestId('user-search').locator('input').press('Enter')
    const row = page.getByTestId('users-table').locator('tbody tr.ant-table-row', { hasText: email })
    await row.waitFor()
    await expect.poll(() => page.getByTestId('users-table').locator('tbody tr.ant-table-row').count()).toBe(1)
    expect(await row.textContent()).toContain(hostile)
    expect(await row.locator('img').count()).toBe(0)
    expect(await page.evaluate(() => (window as { __pwned?: number }).__pwned)).toBeUndefined()

    // Adjust the balance by ¥1.5 with a reason: exactly 1,500,000 micro-yuan reach the ledger.
    await row.getByRole('button', { name: zh.admin.users.adjust }).click()
    const modal = page.locator('.ant-modal').filter({ hasText: zh.admin.users.reason })
    await modal.getByLabel(zh.admin.users.amount).fill('1.5')
    await modal.getByLabel(zh.admin.users.reason).fill('e2e 补偿')
    await shot(page, 'admin-adjust-balance.png')
    const adjusted = page.waitForResponse((r) => r.url().endsWith('/balance') && r.request().method() === 'POST')
    await modal.getByRole('button', { name: zh.admin.users.adjust }).click()
    expect((await adjusted).status()).toBe(200)
    const ledger = await apiCall<{ items: Array<{ reason: string; delta: number; note: string | null }> }>(
      server,
      'GET',
      '/api/billing/ledger',
      token,
    )
    expect(ledger.json.items[0]).toMatchObject({ reason: 'admin_adjust', delta: 1_500_000, note: 'e2e 补偿' })

    // Disable, after a confirmation.
    await row.getByTestId('disable-user').click()
    const disabled = page.waitForResponse(
      (r) => /\/api\/admin\/users\/[^/]+$/.test(r.url()) && r.request().method() === 'PATCH',
    )
    await confirmButton(page).click()
    expect((await disabled).status()).toBe(200)
    await row.getByTestId('user-status').filter({ hasText: zh.admin.users.statuses.disabled }).waitFor()
    await shot(page, 'admin-users-light.png')

    // The user's very next request fails and the app lands on the login page (SECURITY A6).
    await user.page.getByRole('menuitem', { name: zh.nav.usage }).click()
    await user.page.waitForURL('**/login')
    await user.page.getByRole('heading', { name: zh.auth.loginTitle }).waitFor()
    // The old access token is refused too (token-version check), not just the refresh cookie.
    expect((await apiCall(server, 'GET', '/api/me', token)).status).toBe(401)
    expect(user.problems).toEqual([])
    await user.context.close()

    // The audit log has the two writes, filterable by action.
    await page.getByRole('tab', { name: zh.admin.tabs.audit }).click()
    await page.getByTestId('audit-action-filter').locator('input').fill('user.disabled')
    await page.getByTestId('audit-action-filter').locator('input').press('Enter')
    const auditRows = page.getByTestId('audit-table').locator('tbody tr.ant-table-row')
    await expect.poll(() => auditRows.count()).toBe(1)
    expect(await auditRows.first().textContent()).toContain('user.disabled')
    await shot(page, 'admin-audit-light.png')

    // Providers: the emulator's channel is marked; a metadata-service URL is refused on the field (SECURITY F1).
    await page.getByRole('tab', { name: zh.admin.tabs.providers }).click()
    await page.getByTestId('emulated-tag').first().waitFor()
    await shot(page, 'admin-providers-light.png')
    await page.getByRole('button', { name: zh.admin.providers.add }).click()
    const channelModal = page.locator('.ant-modal').filter({ hasText: zh.admin.providers.baseUrl })
    await channelModal.getByLabel(zh.admin.providers.name).fill('metadata')
    await channelModal.getByLabel(zh.admin.providers.baseUrl).fill('http://169.254.169.254/v1')
    const refused = page.waitForResponse(
      (r) => r.url().endsWith('/api/admin/providers') && r.request().method() === 'POST',
    )
    await channelModal.getByRole('button', { name: zh.admin.save }).click()
    expect((await refused).status()).toBe(400)
    await channelModal.getByText(zh.admin.providers.urlNotAllowed).waitFor()
    await shot(page, 'admin-channel-refused.png')
    await channelModal.getByRole('button', { name: zh.admin.cancel }).click()

    // Models and settings render; a settings change saves only what changed.
    await page.getByRole('tab', { name: zh.admin.tabs.models }).click()
    await page.getByTestId('models-table').locator('tbody tr.ant-table-row').first().waitFor()
    await shot(page, 'admin-models-light.png')
    // A price typed in yuan reaches the server as exact micro-yuan.
    const firstModel = page.getByTestId('models-table').locator('tbody tr.ant-table-row').first()
    await firstModel.getByRole('button', { name: zh.admin.edit }).click()
    const modelModal = page.locator('.ant-modal').filter({ hasText: zh.admin.models.displayName })
    await modelModal.getByLabel(`${zh.admin.models.input} (${zh.admin.models.perMTok})`).fill('0.35')
    const patched = page.waitForResponse(
      (r) => r.url().includes('/api/admin/models/') && r.request().method() === 'PATCH',
    )
    await modelModal.getByRole('button', { name: zh.admin.save }).click()
    const patchedResponse = await patched
    expect(patchedResponse.status()).toBe(200)
    expect((patchedResponse.request().postDataJSON() as { prices: { inputPerMTok: number } }).prices.inputPerMTok).toBe(
      350_000,
    )
    await firstModel.getByText('¥0.35', { exact: true }).waitFor()
    await page.getByRole('tab', { name: zh.admin.tabs.settings }).click()
    const userRpm = page.getByLabel(zh.admin.settings.limits.userRpm)
    await userRpm.fill('61')
    const saved = page.waitForResponse(
      (r) => r.url().endsWith('/api/admin/settings') && r.request().method() === 'PATCH',
    )
    await page.getByTestId('settings-save').click()
    const savedResponse = await saved
    expect(savedResponse.status()).toBe(200)
    expect(savedResponse.request().postDataJSON()).toEqual({ rateLimits: { userRpm: 61 } })
    await shot(page, 'admin-settings-light.png')

    // Dark theme and a phone, for people to look at.
    await switchToDarkTheme(page)
    await page.getByRole('tab', { name: zh.admin.tabs.dashboard }).click()
    for (const id of ['admin-chart-daily', 'admin-chart-models', 'admin-chart-users']) await chartDrawn(page, id)
    await page.mouse.move(640, 10)
    await shot(page, 'admin-dashboard-dark.png')
    await page.setViewportSize({ width: 390, height: 844 })
    await chartDrawn(page, 'admin-chart-daily')
    await shot(page, 'admin-dashboard-phone.png')
    await page.getByRole('tab', { name: zh.admin.tabs.users }).click()
    await page.getByTestId('users-table').locator('tbody tr.ant-table-row').first().waitFor()
    await shot(page, 'admin-users-phone.png')

    expect(problems).toEqual([])
    await context.close()
  })

  it('hides the admin menu from a regular user and answers 403 on every admin route', async () => {
    const { context, page, problems } = await newPage(browser)
    const { token } = await registerInPage(server, page, 'plain', { landOn: 'user-menu' })
    expect(await page.getByRole('menuitem', { name: zh.nav.admin }).count()).toBe(0)
    await page.goto(`${server.url}/admin/users`)
    await page.getByText(zh.app.notFoundTitle).first().waitFor()
    expect(await page.getByTestId('admin-page').count()).toBe(0)

    // Every admin route, read from the server's own route table (OpenAPI), with the user's token (SECURITY C5).
    const spec = await apiCall<{ paths: Record<string, Record<string, unknown>> }>(server, 'GET', '/openapi.json', null)
    expect(spec.status).toBe(200)
    const routes = Object.entries(spec.json.paths)
      .filter(([path]) => path.startsWith('/api/admin'))
      .flatMap(([path, methods]) =>
        Object.keys(methods)
          .filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
          .map((m) => ({ method: m.toUpperCase(), path: path.replace(/\{[^}]+\}/g, 'some-id') })),
      )
    // Users, balance, providers and keys, models, stats, settings, audit logs at least.
    expect(routes.length).toBeGreaterThanOrEqual(16)
    for (const route of routes) {
      const body = ['POST', 'PATCH', 'PUT'].includes(route.method) ? {} : undefined
      const res = await page.request.fetch(`${server.url}${route.path}`, {
        method: route.method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { data: body } : {}),
      })
      expect(res.status(), `${route.method} ${route.path}`).toBe(403)
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('FORBIDDEN')
    }

    expect(problems).toEqual([])
    await context.close()
  })
})
