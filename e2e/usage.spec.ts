import { readFile } from 'node:fs/promises'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { formatYuan } from '../apps/web/src/features/billing/money'
import { zhCN as zh } from '../apps/web/src/i18n/zh-CN'
import {
  apiCall,
  artifactPath,
  fundAccountsAndRaiseAuthLimit,
  loginFirstAdmin,
  startServerAndBrowser,
  stopServerAndBrowser,
  type RunningServer,
} from './harness'
import { chartDrawn, newPage, openSelectDropdown, registerInPage, shot, switchToDarkTheme } from './pages'

let server: RunningServer
let browser: Browser
/** Two chat models the built-in emulator serves (read from /api/models). */
let modelA: { id: string; displayName: string }
let modelB: { id: string; displayName: string }

beforeAll(async () => {
  ;({ server, browser } = await startServerAndBrowser())
  const admin = (await loginFirstAdmin(server)).token
  // New accounts get ¥5 so chat turns can be paid for; a roomy per-IP auth limit keeps the
  // page reloads of this file from tripping the sign-in throttle.
  await fundAccountsAndRaiseAuthLimit(server, admin)
  const models = await apiCall<{ items: Array<{ id: string; kind: string; displayName: string; emulated: boolean }> }>(
    server,
    'GET',
    '/api/models',
    admin,
  )
  const chat = models.json.items.filter((m) => m.kind === 'chat')
  expect(chat.length).toBeGreaterThanOrEqual(2)
  ;[modelA, modelB] = [chat[0]!, chat[1]!]
})

afterAll(() => stopServerAndBrowser({ server, browser }))

/** One chat turn through the real chat API (JSON, not SSE), answered by the emulator. */
async function chatTurn(token: string, model: string, content: string): Promise<void> {
  const convo = await apiCall<{ id: string }>(server, 'POST', '/api/conversations', token, { model })
  expect(convo.status).toBe(201)
  const turn = await apiCall(server, 'POST', `/api/conversations/${convo.json.id}/messages`, token, { content, model })
  expect(turn.status, JSON.stringify(turn.json)).toBe(200)
}

async function waitForStat(page: Page, testId: string, expected: number): Promise<void> {
  await page.waitForFunction(
    ([id, want]) => {
      const el = document.querySelector(`[data-testid="${id}"] .ant-statistic-content`)
      return el !== null && Number((el.textContent ?? '').replace(/[^\d.]/g, '')) === want
    },
    [testId, expected] as const,
  )
}

/** Opens an antd Select and picks the option with this label. */
async function pick(page: Page, testId: string, label: string): Promise<void> {
  await page.getByTestId(testId).click()
  const exact = new RegExp(`^${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`)
  await openSelectDropdown(page)
    .locator('.ant-select-item-option')
    .filter({ hasText: exact })
    .click({ timeout: 5000 })
    .catch(async (e: unknown) => {
      await page.screenshot({ path: artifactPath('debug.png') })
      console.log(
        await page.locator('.ant-select-dropdown').evaluateAll((els) => els.map((x) => x.outerHTML.slice(0, 1500))),
      )
      throw e
    })
}

const dataRows = (page: Page) => page.getByTestId('calls-table').locator('tbody tr.ant-table-row')

describe('usage history, CSV and charts', () => {
  it('filters the call table by model, downloads the filtered CSV and draws the charts', async () => {
    const { context, page, problems } = await newPage(browser)
    const { token } = await registerInPage(server, page, 'usage', { landOn: 'user-menu' })

    // One turn through the chat page: once it is answered, the header balance is fetched again.
    const badge = page.getByTestId('balance-badge')
    await badge.waitFor()
    const balanceRefetched = page.waitForResponse((r) => r.url().endsWith('/api/billing/balance') && r.ok())
    await page.getByTestId('composer-input').fill('你好')
    await page.getByTestId('composer-input').press('Enter')
    await page.getByTestId('message-assistant').last().waitFor()
    await balanceRefetched

    // Three more through the API: two on model A, one on model B.
    await chatTurn(token, modelA.id, '你好')
    await chatTurn(token, modelA.id, 'Tell me a short story')
    await chatTurn(token, modelB.id, '1+1=?')
    const callsOf = async (query: string) => {
      const calls = await apiCall<{ items: unknown[] }>(server, 'GET', `/api/usage/calls?limit=100${query}`, token)
      return calls.json.items.length
    }
    const total = await callsOf('')
    const onModelA = await callsOf(`&model=${modelA.id}`)
    expect(total).toBe(4)
    expect(onModelA).toBeGreaterThanOrEqual(2)

    await page.getByRole('menuitem', { name: zh.nav.usage }).click()
    await page.waitForURL('**/usage')
    await page.getByTestId('usage-page').waitFor()

    // All four calls, and totals that agree.
    await expect.poll(() => dataRows(page).count()).toBe(total)
    await waitForStat(page, 'total-calls', total)
    const allCost = await page.getByTestId('total-cost').locator('.ant-statistic-content').textContent()
    expect(allCost).toMatch(/^¥\d/)
    await page.getByTestId('summary-calls').waitFor()
    await shot(page, 'usage-light.png')

    // Filter by model A: its rows only, totals follow.
    await pick(page, 'filter-model', modelA.displayName)
    await waitForStat(page, 'total-calls', onModelA)
    await expect.poll(() => dataRows(page).count()).toBe(onModelA)
    for (const row of await dataRows(page).all()) expect(await row.textContent()).toContain(modelA.displayName)

    // The CSV carries the same filter: a BOM, a header, and exactly model A's calls.
    const downloading = page.waitForEvent('download')
    await page.getByTestId('download-csv').click()
    const download = await downloading
    expect(download.suggestedFilename()).toMatch(/^qiao-usage-\d{8}\.csv$/)
    const csv = await readFile(await download.path(), 'utf8')
    expect(csv.startsWith('\uFEFF')).toBe(true)
    const lines = csv
      .replace(/^\uFEFF/, '')
      .trim()
      .split(/\r?\n/)
    const header = lines[0]!.split(',')
    expect(header).toContain('model')
    const modelColumn = header.indexOf('model')
    const rows = lines.slice(1)
    expect(rows).toHaveLength(onModelA)
    for (const line of rows) expect(line.split(',')[modelColumn]).toBe(modelA.id)

    // Status "error" matches none of them: the empty state shows and the totals follow.
    await pick(page, 'filter-status', zh.usage.status.error)
    await page.getByText(zh.usage.empty).first().waitFor()
    await expect.poll(() => dataRows(page).count()).toBe(0)
    await waitForStat(page, 'total-calls', 0)

    // Status "ok": the totals count exactly the listed calls, summary row included.
    const okOnModelA = await callsOf(`&model=${modelA.id}&status=ok`)
    expect(okOnModelA).toBeGreaterThan(0)
    await pick(page, 'filter-status', zh.usage.status.ok)
    await waitForStat(page, 'total-calls', okOnModelA)
    await expect.poll(() => dataRows(page).count()).toBe(okOnModelA)
    await page.getByTestId('summary-calls').waitFor()

    // Charts: both canvases are drawn with a real size.
    await page.getByRole('tab', { name: zh.usage.chartsTab }).click()
    for (const id of ['chart-daily', 'chart-models']) {
      const canvas = page.getByTestId(id).locator('canvas').first()
      await canvas.waitFor()
      await chartDrawn(page, id)
      const box = await canvas.boundingBox()
      expect(box?.width).toBeGreaterThan(100)
      expect(box?.height).toBeGreaterThan(100)
    }
    await page.locator('.ant-segmented').getByText(zh.usage.metricCost, { exact: true }).click()
    await chartDrawn(page, 'chart-daily')
    await chartDrawn(page, 'chart-models')
    await shot(page, 'usage-charts-light.png')

    // Billing: the sign-up credit and one charge per call, newest first; the card shows what the
    // server holds, which is exactly the credit minus the cost of the calls.
    await badge.click()
    await page.waitForURL('**/billing')
    const ledger = page.getByTestId('ledger-table').locator('tbody tr.ant-table-row')
    await expect.poll(() => ledger.count()).toBe(total + 1)
    expect(await ledger.last().textContent()).toContain(zh.billing.reasons.signup)
    expect(await ledger.last().textContent()).toContain('+¥5.00')
    for (const row of (await ledger.all()).slice(0, total))
      expect(await row.textContent()).toContain(zh.billing.reasons.usage)
    const balance = await apiCall<{ balance: number; reserved: number; available: number }>(
      server,
      'GET',
      '/api/billing/balance',
      token,
    )
    const stats = await apiCall<{ totals: { cost: number } }>(server, 'GET', '/api/usage/stats', token)
    expect(balance.json.balance).toBe(5_000_000 - stats.json.totals.cost)
    const available = page.getByTestId('balance-available').locator('.ant-statistic-content')
    await expect.poll(() => available.textContent()).toBe(formatYuan(balance.json.available))
    // The header badge shows the same amount as the card, not one rounded to fen.
    await expect.poll(() => badge.textContent()).toBe(formatYuan(balance.json.available))
    await shot(page, 'billing-light.png')

    // Dark theme and a phone, for people to look at.
    await switchToDarkTheme(page)
    await page.mouse.move(640, 700)
    await shot(page, 'billing-dark.png')
    await page.getByRole('menuitem', { name: zh.nav.usage }).click()
    await page.getByTestId('usage-page').waitFor()
    await expect.poll(() => dataRows(page).count()).toBe(total)
    await shot(page, 'usage-dark.png')
    await page.getByRole('tab', { name: zh.usage.chartsTab }).click()
    await chartDrawn(page, 'chart-daily')
    await chartDrawn(page, 'chart-models')
    await shot(page, 'usage-charts-dark.png')
    await page.setViewportSize({ width: 390, height: 844 })
    await chartDrawn(page, 'chart-daily')
    await shot(page, 'usage-charts-phone.png')
    await page.getByRole('tab', { name: zh.usage.callsTab }).click()
    await dataRows(page).first().waitFor()
    await shot(page, 'usage-phone.png')

    expect(problems).toEqual([])
    await context.close()
  })
})
