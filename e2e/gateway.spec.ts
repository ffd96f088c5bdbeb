import type { Browser, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { zhCN as zh } from '../apps/web/src/i18n/zh-CN'
import { emulatorControl, startServerAndBrowser, stopServerAndBrowser, type RunningServer } from './harness'
import { newPage, openSelectDropdown, registerInPage, shot } from './pages'

// The API keys page and the API playground against the real server; the built-in emulator plays
// the upstream models, and the playground calls the server's own /v1 with a personal key.

let server: RunningServer
let browser: Browser

beforeAll(async () => {
  ;({ server, browser } = await startServerAndBrowser())
})

afterAll(() => stopServerAndBrowser({ server, browser }))

afterEach(async () => {
  await emulatorControl(server, 'DELETE')
})

/** Signs a new `e2e-gw-<tag>-…` account up through the form and lands on the chat home. */
const register = (page: Page, tag: string) => registerInPage(server, page, `gw-${tag}`)

/** Settings → API keys, through the navigation a user would take. */
async function openKeys(page: Page): Promise<void> {
  await page.getByRole('menuitem', { name: zh.nav.settings }).click()
  await page.waitForURL('**/settings**')
  await page.getByRole('tab', { name: zh.settings.keysTab }).click()
  await page.getByRole('button', { name: zh.apikeys.create }).waitFor()
}

async function openPlayground(page: Page): Promise<void> {
  await page.getByRole('menuitem', { name: zh.nav.playground }).click()
  await page.waitForURL('**/playground')
  await page.getByRole('heading', { name: zh.playground.title }).waitFor()
}

describe('API keys and the playground', () => {
  it('creates a key, calls /v1 with it from the playground, and revokes it for good', async () => {
    const { context, page, problems } = await newPage(browser)
    await register(page, 'keys')
    await openKeys(page)
    await page.getByText(zh.apikeys.empty).waitFor()

    // Create a key: the secret is shown once, in a modal.
    await page.getByRole('button', { name: zh.apikeys.create }).click()
    const createModal = page.locator('.ant-modal').filter({ hasText: zh.apikeys.createOk })
    const nameInput = createModal.getByLabel(zh.apikeys.name)
    await nameInput.fill('e2e 脚本')
    // The modal animates in: typing may land before the form is listening. Submit only once the
    // controlled input holds the name (React would have reset it otherwise).
    for (let i = 0; i < 20 && (await nameInput.inputValue()) !== 'e2e 脚本'; i++) {
      await page.waitForTimeout(100)
      await nameInput.fill('e2e 脚本')
    }
    await page.waitForTimeout(200)
    expect(await nameInput.inputValue()).toBe('e2e 脚本')
    const created = page.waitForResponse((r) => r.url().endsWith('/api/keys') && r.request().method() === 'POST')
    await createModal.getByRole('button', { name: zh.apikeys.createOk }).click()
    expect((await created).status()).toBe(201)
    const secretBox = page.getByTestId('api-key-secret')
    await secretBox.waitFor()
    const secret = (await secretBox.innerText()).trim()
    expect(secret).toMatch(/^sk-qiao-[\w-]{20,}$/)
    await shot(page, 'keys-secret.png')
    await page.getByRole('button', { name: zh.apikeys.secretSaved }).click()
    await secretBox.waitFor({ state: 'detached' })

    // Listed with its prefix only; the full secret is not on the page any more.
    const row = page.getByTestId('api-keys').getByRole('listitem').filter({ hasText: 'e2e 脚本' })
    await row.waitFor()
    const shownPrefix = (await row.locator('code').first().innerText()).replace(/…$/, '')
    expect(shownPrefix.length).toBeGreaterThanOrEqual(8)
    expect(secret.startsWith(shownPrefix)).toBe(true)
    expect(shownPrefix.length).toBeLessThan(secret.length)
    expect(await page.content()).not.toContain(secret)
    await row.getByText(zh.apikeys.status.active).waitFor()
    await row.getByText(zh.apikeys.neverUsed).waitFor()
    await shot(page, 'keys-page.png')

    // The playground: pick a model, paste the key, stream an answer.
    await openPlayground(page)
    const modelSelect = page.getByRole('combobox', { name: zh.playground.model })
    await modelSelect.click()
    await modelSelect.fill('moonshot-v1-8k')
    await openSelectDropdown(page).locator('.ant-select-item-option').filter({ hasText: 'moonshot-v1-8k' }).click()
    await page.getByLabel(zh.playground.key, { exact: true }).fill(secret)
    await page.getByLabel(zh.playground.message, { exact: true }).fill('你好，网关！')
    expect(await page.getByRole('switch', { name: zh.playground.stream }).getAttribute('aria-checked')).toBe('true')

    // A pause after a few pieces shows the answer half-written, with Stop on offer.
    await emulatorControl(server, 'POST', { fault: { type: 'stall', afterChunks: 3, delayMs: 2000 }, times: 1 })
    const call = page.waitForResponse((r) => r.url().endsWith('/v1/chat/completions'))
    await page.getByRole('button', { name: zh.playground.send }).click()
    const response = await call
    expect(response.status()).toBe(200)
    expect(response.headers()['content-type']).toContain('text/event-stream')
    const answer = page.getByTestId('playground-answer-text')
    await page.getByRole('button', { name: zh.playground.stop }).waitFor()
    await page.waitForFunction(() => {
      const text = document.querySelector('[data-testid="playground-answer-text"]')?.textContent ?? ''
      return text.length > 1 && text !== '…'
    })
    const partial = await answer.innerText()
    await page.getByRole('button', { name: zh.playground.send }).waitFor()
    const full = await answer.innerText()
    expect(full.length).toBeGreaterThan(partial.length)
    expect(full).toContain('Qiao 模拟器')
    expect(full).toContain('moonshot-v1-8k')
    expect(full).toContain('你好，网关！')
    await shot(page, 'playground-light.png')

    // Raw JSON: every streamed chunk, the last one carrying usage.
    await page.getByRole('tab', { name: zh.playground.raw }).click()
    const raw = JSON.parse(await page.getByTestId('playground-raw').innerText()) as Array<{
      object: string
      model: string
      usage?: { total_tokens: number } | null
    }>
    expect(raw.length).toBeGreaterThan(3)
    expect(raw.every((c) => c.object === 'chat.completion.chunk')).toBe(true)
    expect(raw[0]!.model).toBe('moonshot-v1-8k')
    expect(raw.at(-1)!.usage?.total_tokens).toBeGreaterThan(0)

    // The snippets point at this server's /v1 and read the key from the environment, never inline.
    const origin = new URL(server.url).origin
    for (const [tab, marker] of [
      ['curl', `'${origin}/v1/chat/completions'`],
      ['Python', `base_url="${origin}/v1"`],
      ['Node.js', `baseURL: "${origin}/v1"`],
    ] as const) {
      await page.getByRole('tab', { name: tab, exact: true }).click()
      const snippet = page.getByTestId(`playground-snippet-${tab}`)
      await snippet.waitFor()
      const text = await snippet.innerText()
      expect(text).toContain(marker)
      expect(text).toContain('QIAO_API_KEY')
      expect(text).toContain('moonshot-v1-8k')
      expect(text).not.toContain(secret)
    }

    // The key now shows as used.
    await openKeys(page)
    await row.getByText(zh.apikeys.neverUsed).waitFor({ state: 'detached' })

    // Revoke it, after confirming.
    await row.getByRole('button', { name: zh.apikeys.revoke }).click()
    const revoked = page.waitForResponse((r) => r.url().includes('/api/keys/') && r.request().method() === 'DELETE')
    await page.locator('.ant-popconfirm').getByRole('button', { name: zh.apikeys.revoke }).click()
    expect((await revoked).status()).toBeLessThan(300)
    await row.getByText(zh.apikeys.status.revoked).waitFor()
    expect(await row.getByRole('button', { name: zh.apikeys.revoke }).count()).toBe(0)
    await shot(page, 'keys-revoked.png')

    // A revoked key opens nothing: 401 in OpenAI's error shape.
    const after = await page.request.post(`${server.url}/v1/chat/completions`, {
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      data: { model: 'moonshot-v1-8k', messages: [{ role: 'user', content: 'still there?' }] },
    })
    expect(after.status()).toBe(401)
    const body = (await after.json()) as { error: { message: string; type: string; code: string | null; param: string | null } }
    expect(body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_api_key', param: null })
    expect(typeof body.error.message).toBe('string')
    expect(body.error.message).not.toContain(secret)

    expect(problems).toEqual([])
    await context.close()
  })

  it('shows a refused key in place, and looks right in the dark and on a phone', async () => {
    const { context, page, problems } = await newPage(browser, { colorScheme: 'dark' })
    await register(page, 'dark')
    await openPlayground(page)

    // A made-up key: the error is shown in the answer, in OpenAI's words.
    await page.getByLabel(zh.playground.key, { exact: true }).fill('sk-qiao-not-a-real-key-000000000000')
    const call = page.waitForResponse((r) => r.url().endsWith('/v1/chat/completions'))
    await page.getByRole('button', { name: zh.playground.send }).click()
    expect((await call).status()).toBe(401)
    await page.getByTestId('playground-answer').locator('.ant-alert-error').getByText(/^401 · /).waitFor()

    // The temporary-key button makes a key and fills it in; then a non-streamed call works.
    await page.getByRole('button', { name: zh.playground.temporaryKey }).click()
    await page.waitForFunction(
      (label) => (document.querySelector<HTMLInputElement>(`input[aria-label="${label}"]`)?.value ?? '').startsWith('sk-qiao-'),
      zh.playground.key,
    )
    await page.getByRole('switch', { name: zh.playground.stream }).click()
    const ok = page.waitForResponse((r) => r.url().endsWith('/v1/chat/completions'))
    await page.getByRole('button', { name: zh.playground.send }).click()
    expect((await ok).status()).toBe(200)
    await page.getByTestId('playground-answer-text').getByText('Qiao 模拟器', { exact: false }).waitFor()
    await page.mouse.move(5, 790)
    await shot(page, 'playground-dark.png')

    await page.setViewportSize({ width: 390, height: 844 })
    await page.getByTestId('playground-answer-text').waitFor()
    await shot(page, 'playground-phone.png')
    // Nothing sticks out sideways on a phone.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)

    await page.goto(`${server.url}/settings?tab=keys`)
    await page.getByTestId('api-keys').getByRole('listitem').filter({ hasText: zh.playground.temporaryKeyName }).waitFor()
    await shot(page, 'keys-phone.png')
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    // All four settings tabs fit on the phone: none cut off, faded out or moved to the overflow menu.
    const tabBar = (await page.locator('.ant-tabs-nav-wrap').first().boundingBox())!
    const tabs = await page.getByRole('tab').all()
    expect(tabs).toHaveLength(4)
    for (const tab of tabs) {
      const box = (await tab.boundingBox())!
      expect(box.x).toBeGreaterThanOrEqual(tabBar.x)
      expect(box.x + box.width).toBeLessThanOrEqual(tabBar.x + tabBar.width)
    }
    expect(await page.locator('.ant-tabs-nav-more').isVisible()).toBe(false)
    expect(await page.locator('.ant-tabs-nav-wrap-ping-right, .ant-tabs-nav-wrap-ping-left').count()).toBe(0)

    expect(problems).toEqual([])
    await context.close()
  })
})
