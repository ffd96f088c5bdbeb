import type { Browser, Page } from 'playwright-core'
import { PNG } from 'pngjs'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { zhCN as zh } from '../apps/web/src/i18n/zh-CN'
import { emulatorControl, startServerAndBrowser, stopServerAndBrowser, type RunningServer } from './harness'
import { newPage, openDropdowns, registerInPage, shot as pageShot, signInInPage, uniqueEmail } from './pages'

// The chat page against the real server, whose built-in emulator plays the model providers.
// Upstream faults are scripted through the emulator's control route.

let server: RunningServer
let browser: Browser

beforeAll(async () => {
  ;({ server, browser } = await startServerAndBrowser())
})

afterAll(() => stopServerAndBrowser({ server, browser }))

afterEach(async () => {
  await emulatorControl(server, 'DELETE')
})

const injectFault = (fault: Record<string, unknown>, times = 1) => emulatorControl(server, 'POST', { fault, times })

/** The chat page's screenshots show the viewport only, not the full page. */
const shot = (page: Page, name: string) => pageShot(page, name, { fullPage: false })

/** Signs a new `e2e-chat-<tag>-…` account up through the form, named 小桥, and lands on the chat home. */
const register = (page: Page, tag: string) => registerInPage(server, page, `chat-${tag}`, { displayName: '小桥' })

/** The last assistant message on screen. */
const lastAnswer = (page: Page) => page.getByTestId('message-assistant').last()

async function typeAndSend(page: Page, text: string): Promise<void> {
  const input = page.getByTestId('composer-input')
  await input.fill(text)
  await input.press('Enter')
}

async function pickModel(page: Page, id: string): Promise<void> {
  await page.getByTestId('model-picker').click()
  await page.getByTestId(`model-option-${id}`).click()
}

/** A real PNG, so the server's content sniffing and the emulator's decoder both accept it. */
function pngBytes(width: number, height: number): Buffer {
  const png = new PNG({ width, height })
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4
      png.data[i] = (x * 255) / width
      png.data[i + 1] = (y * 255) / height
      png.data[i + 2] = 200
      png.data[i + 3] = 255
    }
  }
  return PNG.sync.write(png)
}

describe('chat', () => {
  it('streams an answer, keeps it across a reload, renders rich markdown safely, and branches on edit', async () => {
    const { context, page, problems } = await newPage(browser)
    await register(page, 'stream')
    await page.getByTestId('greeting').getByText('小桥').waitFor()
    await page.getByTestId('conversation-sidebar').getByText(zh.chat.noConversations).waitFor()
    // Every model here is served by the emulator, and the page says so.
    await page.getByTestId('model-picker').waitFor()
    await page.locator('[data-testid="emulated-tag"]').first().waitFor()
    await shot(page, 'chat-empty.png')

    // IME composition: Enter only confirms the candidate, nothing is sent.
    const input = page.getByTestId('composer-input')
    await input.fill('ni hao')
    await input.evaluate((el) =>
      el.dispatchEvent(
        new KeyboardEvent('keydown', {
          key: 'Enter',
          keyCode: 229,
          isComposing: true,
          bubbles: true,
          cancelable: true,
        }),
      ),
    )
    expect(await input.inputValue()).toBe('ni hao')
    expect(page.url()).toBe(`${server.url}/`)

    // A pause after three pieces lets us see the answer half-written.
    await injectFault({ type: 'stall', afterChunks: 3, delayMs: 3000 })
    await typeAndSend(page, '你好，请介绍一下你自己')
    await page.waitForURL(/\/c\/[\w-]+$/)
    const conversationUrl = page.url()
    const content = lastAnswer(page).getByTestId('message-content')
    await content.waitFor()
    const partial = await content.innerText()
    expect(await page.getByTestId('stop-button').isVisible()).toBe(true)
    expect(await lastAnswer(page).getAttribute('data-status')).toBe('streaming')
    await shot(page, 'chat-streaming.png')
    await page.getByTestId('send-button').waitFor()
    await lastAnswer(page).getByTestId('usage').waitFor()
    const full = await content.innerText()
    expect(full.length).toBeGreaterThan(partial.length)
    expect(full).toContain('Qiao 模拟器')
    expect(full).toContain('你好，请介绍一下你自己')
    expect(await lastAnswer(page).getAttribute('data-status')).toBe('complete')

    // The sidebar names the conversation after the first message.
    await page.getByTestId('conversation-item').filter({ hasText: '你好，请介绍一下你自己' }).waitFor()

    // Reload the deep link: everything comes back from the server.
    await page.reload()
    await page.getByTestId('message-user-text').filter({ hasText: '你好，请介绍一下你自己' }).waitFor()
    expect(page.url()).toBe(conversationUrl)
    expect(await lastAnswer(page).getByTestId('message-content').innerText()).toBe(full)
    await shot(page, 'chat-desktop-light.png')

    // Rich markdown, with hostile bits, straight from the upstream's content stream (SECURITY E1 in the browser).
    const markdown = [
      '',
      '',
      '| 模型 | 输入价格 |',
      '| --- | ---: |',
      '| Qwen-Plus | ¥0.8 |',
      '| Kimi K2 | ¥4 |',
      '',
      '```python',
      'def greet(name: str) -> str:',
      '    return f"你好，{name}"',
      '```',
      '',
      '质能方程：$E = mc^2$，以及',
      '',
      '$$',
      '\\int_0^1 x^2\\,dx = \\frac{1}{3}',
      '$$',
      '',
      '<img src=x onerror="window.__pwned = 1"> <script>window.__pwned = 2</script> [点我](javascript:window.__pwned=3)',
    ].join('\n')
    await injectFault({
      type: 'raw_event',
      afterChunks: 1000,
      raw: `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: markdown }, finish_reason: null }] })}\n\n`,
    })
    await typeAndSend(page, '给我一个表格、代码和公式')
    await page.getByTestId('send-button').waitFor()
    const rich = lastAnswer(page)
    await rich.locator('table').waitFor()
    await rich.locator('.katex-display').waitFor()
    await rich.locator('.qiao-md-code[data-language="python"]').waitFor()
    // Shiki colours arrive a moment later: the code turns into coloured spans.
    await rich.locator('.qiao-md-code span[style*="color"]').first().waitFor()
    expect(await rich.locator('script, img, iframe').count()).toBe(0)
    expect(await rich.getByText('onerror=').count()).toBe(1)
    const jsLink = rich.getByText('点我')
    expect(await jsLink.evaluate((el) => el.closest('a'))).toBeNull()
    await jsLink.click()
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined()
    await rich.scrollIntoViewIfNeeded()
    await shot(page, 'chat-markdown-light.png')

    // Edit the first question: a new branch, with a switcher back to the old one.
    const firstQuestion = page.getByTestId('message-user').first()
    await firstQuestion.hover()
    await firstQuestion.getByRole('button', { name: zh.chat.edit }).click()
    await page.getByTestId('edit-box').locator('textarea').fill('换个问题：今天天气如何？')
    await page.getByTestId('edit-box').getByRole('button', { name: zh.chat.saveAndSend }).click()
    await page.getByTestId('send-button').waitFor()
    await lastAnswer(page).getByText('换个问题：今天天气如何？').waitFor()
    await page.getByTestId('message-user').first().getByTestId('branch-switcher').getByText('2/2').waitFor()
    expect(await page.getByTestId('message-user').count()).toBe(1)
    await page.getByTestId('message-user').first().getByRole('button', { name: zh.chat.prevBranch }).click()
    await page.getByTestId('message-user-text').filter({ hasText: '你好，请介绍一下你自己' }).waitFor()
    await page.getByTestId('message-user').first().getByTestId('branch-switcher').getByText('1/2').waitFor()
    expect(await page.getByTestId('message-user').count()).toBe(2)

    expect(problems).toEqual([])
    await context.close()
  })

  it('stops mid-stream with Esc and keeps the partial answer, marked interrupted', async () => {
    const { context, page, problems } = await newPage(browser)
    await register(page, 'stop')
    // The upstream goes quiet after a few pieces, like a slow model: plenty of time to stop it.
    await injectFault({ type: 'stall', afterChunks: 4, delayMs: 30_000 })
    await typeAndSend(page, '请写一个很长的回答')
    await page.waitForURL(/\/c\/[\w-]+$/)
    const content = lastAnswer(page).getByTestId('message-content')
    await content.waitFor()
    await page.getByTestId('stop-button').waitFor()
    await page.keyboard.press('Escape')
    await page.getByTestId('send-button').waitFor()
    await lastAnswer(page).getByTestId('status-interrupted').waitFor()
    const partial = await content.innerText()
    expect(partial.length).toBeGreaterThan(0)
    expect(partial).not.toContain('第 12 段')

    await page.reload()
    await lastAnswer(page).getByTestId('status-interrupted').waitFor()
    expect(await lastAnswer(page).getAttribute('data-status')).toBe('interrupted')
    expect(await lastAnswer(page).getByTestId('message-content').innerText()).toBe(partial)
    await shot(page, 'chat-interrupted.png')

    // The Stop button does the same as Esc.
    await injectFault({ type: 'stall', afterChunks: 2, delayMs: 30_000 })
    await typeAndSend(page, 'another long answer please')
    await page.getByTestId('stop-button').click()
    await page.getByTestId('send-button').waitFor()
    await lastAnswer(page).getByTestId('status-interrupted').waitFor()

    expect(problems).toEqual([])
    await context.close()
  })

  it('answers about an attached image with a vision model', async () => {
    const { context, page, problems } = await newPage(browser)
    await register(page, 'vision')
    // Text-only models cannot take images.
    expect(await page.getByTestId('attach-button').isDisabled()).toBe(true)
    await pickModel(page, 'qwen-vl-plus')
    expect(await page.getByTestId('attach-button').isDisabled()).toBe(false)

    const uploaded = page.waitForResponse((r) => r.url().endsWith('/api/files') && r.request().method() === 'POST')
    await page
      .getByTestId('image-input')
      .setInputFiles({ name: 'gradient.png', mimeType: 'image/png', buffer: pngBytes(64, 48) })
    expect((await uploaded).status()).toBe(201)
    await page.getByTestId('attachments').locator('img').waitFor()
    await shot(page, 'chat-vision-attached.png')

    await typeAndSend(page, '这张图片里有什么？')
    await page.waitForURL(/\/c\/[\w-]+$/)
    await page.getByTestId('send-button').waitFor()
    // The usage line shows once the answer is complete (the send button can show a moment before).
    await lastAnswer(page).getByTestId('usage').waitFor()
    const answer = await lastAnswer(page).getByTestId('message-content').innerText()
    expect(answer).toContain('你发送了 1 张图片')
    expect(answer).toContain('PNG 格式，64×48 像素')
    // The picture shows in the question, fetched with the access token.
    const picture = page.getByTestId('message-user').getByTestId('message-image').locator('img')
    await picture.waitFor()
    await page.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>('[data-testid="message-image"] img')
      return !!img && img.complete && img.naturalWidth === 64
    })
    expect(await picture.getAttribute('src')).toMatch(/^blob:/)
    await shot(page, 'chat-vision.png')

    expect(problems).toEqual([])
    await context.close()
  })

  it('shows an upstream failure in place, keeps the question, and retries', async () => {
    const { context, page, problems } = await newPage(browser)
    await register(page, 'failure')
    await injectFault({ type: 'http_error', status: 400, code: 'InvalidParameter', message: 'scripted failure' }, 5)
    await typeAndSend(page, '这条消息会遇到上游故障')
    await page.waitForURL(/\/c\/[\w-]+$/)
    const error = lastAnswer(page).getByTestId('message-error')
    await error.waitFor()
    expect(await lastAnswer(page).getAttribute('data-status')).toBe('error')
    await page.getByTestId('message-user-text').filter({ hasText: '这条消息会遇到上游故障' }).waitFor()
    await shot(page, 'chat-error.png')

    // Still there after a reload: the failure is stored with the message.
    await page.reload()
    await lastAnswer(page).getByTestId('message-error').waitFor()
    await page.getByTestId('message-user-text').filter({ hasText: '这条消息会遇到上游故障' }).waitFor()

    // The upstream recovers; Retry answers the same question on a new branch.
    await emulatorControl(server, 'DELETE')
    await lastAnswer(page).getByTestId('retry-button').click()
    await page.getByTestId('send-button').waitFor()
    await lastAnswer(page).getByTestId('usage').waitFor()
    expect(await lastAnswer(page).getAttribute('data-status')).toBe('complete')
    expect(await lastAnswer(page).getByTestId('message-content').innerText()).toContain('这条消息会遇到上游故障')
    await lastAnswer(page).getByTestId('branch-switcher').getByText('2/2').waitFor()

    expect(problems).toEqual([])
    await context.close()
  })

  it('works on a phone, in the dark, with the conversation list in a drawer', async () => {
    const { context, page, problems } = await newPage(browser, {
      colorScheme: 'dark',
      viewport: { width: 390, height: 844 },
    })
    await register(page, 'phone')
    await typeAndSend(page, '手机上也能用吗？')
    await page.waitForURL(/\/c\/[\w-]+$/)
    await page.getByTestId('send-button').waitFor()
    await lastAnswer(page).getByTestId('usage').waitFor()
    // No sidebar column on a phone: the list opens in a drawer.
    expect(await page.getByTestId('conversation-sidebar').count()).toBe(0)
    await shot(page, 'chat-phone-dark.png')
    await page.getByTestId('open-conversations').click()
    const drawer = page.locator('.ant-drawer-open')
    await drawer.getByTestId('conversation-item').filter({ hasText: '手机上也能用吗' }).waitFor()
    await shot(page, 'chat-phone-drawer.png')
    await drawer.getByTestId('new-chat').click()
    await page.waitForURL(`${server.url}/`)
    await page.getByTestId('chat-home').waitFor()

    // Wide again, still dark: the desktop layout.
    await page.setViewportSize({ width: 1280, height: 800 })
    await page.getByTestId('conversation-item').first().click()
    await page.waitForURL(/\/c\/[\w-]+$/)
    await lastAnswer(page).getByTestId('usage').waitFor()
    await shot(page, 'chat-desktop-dark.png')

    expect(problems).toEqual([])
    await context.close()
  })

  it('on a tablet, starts the navigation as icons so the conversation keeps room for its title', async () => {
    const { context, page, problems } = await newPage(browser, { viewport: { width: 820, height: 1180 } })
    await register(page, 'tablet')
    await typeAndSend(page, '平板上，会话标题还看得见吗？这是一条足够长的消息，好让标题占满它能占的宽度')
    await page.waitForURL(/\/c\/[\w-]+$/)
    await lastAnswer(page).getByTestId('usage').waitFor()
    const sider = page.locator('.ant-layout-sider')
    expect((await sider.boundingBox())!.width).toBeLessThanOrEqual(80)
    // Beside the conversation list, the header still shows the model and a readable part of the title.
    const title = page.getByTestId('conversation-title')
    await expect.poll(async () => (await title.innerText()).length).toBeGreaterThan(0)
    expect((await title.boundingBox())!.width).toBeGreaterThan(100)
    await shot(page, 'chat-tablet.png')
    // The user's choice wins over the width.
    await page.getByRole('button', { name: zh.nav.expand }).click()
    await expect.poll(async () => (await sider.boundingBox())!.width).toBeGreaterThan(150)
    expect(problems).toEqual([])
    await context.close()
  })

  it('manages conversations: search, pin, rename, archive and delete', async () => {
    const { context, page, problems } = await newPage(browser)
    await register(page, 'manage')
    for (const text of ['第一个会话：苹果', '第二个会话：香蕉']) {
      await page.getByTestId('new-chat').click()
      await page.getByTestId('chat-home').waitFor()
      await typeAndSend(page, text)
      await page.waitForURL(/\/c\/[\w-]+$/)
      await page.getByTestId('send-button').waitFor()
      await lastAnswer(page).getByTestId('usage').waitFor()
    }
    const items = page.getByTestId('conversation-item')
    await items.nth(1).waitFor()
    expect(await items.count()).toBe(2)

    // Search narrows the list (debounced, server-side).
    await page.getByTestId('conversation-search').fill('苹果')
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="conversation-item"]').length === 1)
    expect(await items.first().innerText()).toContain('苹果')
    await page.getByTestId('conversation-search').fill('')
    await items.nth(1).waitFor()

    const actionOn = async (title: string, action: string) => {
      const item = items.filter({ hasText: title })
      await item.hover()
      await item.getByTestId('conversation-actions').click()
      await openDropdowns(page).getByRole('menuitem', { name: action }).click()
    }

    // Pin the older one: it moves to the top, under "pinned".
    await actionOn('苹果', zh.chat.pin)
    await page.getByTestId('conversation-sidebar').getByText(zh.chat.groupPinned).waitFor()
    await page.waitForFunction(() =>
      document.querySelector('[data-testid="conversation-item"]')?.textContent?.includes('苹果'),
    )

    // Rename.
    await actionOn('香蕉', zh.chat.rename)
    await page.getByTestId('rename-input').fill('水果讨论')
    await page.getByTestId('rename-input').press('Enter')
    await items.filter({ hasText: '水果讨论' }).waitFor()
    await shot(page, 'chat-sidebar.png')

    // Archive: gone from the list, listed under archived.
    await actionOn('水果讨论', zh.chat.archive)
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="conversation-item"]').length === 1)
    await page.getByRole('button', { name: zh.chat.showArchived }).click()
    await items.filter({ hasText: '水果讨论' }).waitFor()
    await page.getByRole('button', { name: zh.chat.backToConversations }).click()

    // Delete, after confirming.
    await actionOn('苹果', zh.chat.delete)
    await page.locator('.ant-modal-confirm').getByRole('button', { name: zh.chat.delete }).click()
    await page.getByTestId('conversation-sidebar').getByText(zh.chat.noConversations).waitFor()

    expect(problems).toEqual([])
    await context.close()
  })
})

describe('chat, beyond the basics', () => {
  it('shows the thinking of a reasoning model, collapsed', async () => {
    const { context, page, problems } = await newPage(browser)
    await register(page, 'thinking')
    await page.getByTestId('thinking-toggle').click()
    expect(await page.getByTestId('thinking-toggle').getAttribute('aria-pressed')).toBe('true')
    await typeAndSend(page, '一加一等于几？')
    await page.waitForURL(/\/c\/[\w-]+$/)
    await page.getByTestId('send-button').waitFor()
    const answer = lastAnswer(page)
    await answer.getByTestId('usage').waitFor()
    const thoughts = answer.getByText(zh.chat.thoughts)
    await thoughts.waitFor()
    // Collapsed: the reasoning text is one click away.
    expect(await answer.getByText('我是模拟器，所以按固定模板回答。').count()).toBe(0)
    await thoughts.click()
    await answer.getByText('我是模拟器，所以按固定模板回答。').waitFor()
    // Still on for the next message of the conversation.
    expect(await page.getByTestId('thinking-toggle').getAttribute('aria-pressed')).toBe('true')
    await shot(page, 'chat-thinking.png')
    expect(problems).toEqual([])
    await context.close()
  })

  it('keeps a long conversation fast: only messages near the viewport are in the page', async () => {
    // Forty turns through the API (JSON answers), then open the conversation in the browser.
    const email = uniqueEmail('chat-long')
    const password = 'a long passphrase for e2e'
    const registered = await fetch(`${server.url}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    })
    expect(registered.status).toBe(201)
    const { accessToken } = (await registered.json()) as { accessToken: string }
    const call = async (path: string, body: unknown) => {
      const res = await fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${accessToken}` },
        body: JSON.stringify(body),
      })
      expect(res.status, await res.clone().text()).toBeLessThan(300)
      return (await res.json()) as { id: string }
    }
    const conversation = await call('/api/conversations', {})
    const turns = 40
    for (let i = 1; i <= turns; i++)
      await call(`/api/conversations/${conversation.id}/messages`, { content: `第 ${i} 个问题` })

    const { context, page, problems } = await newPage(browser)
    await signInInPage(server, page, { email, password })
    await page.goto(`${server.url}/c/${conversation.id}`)

    // Opens at the bottom, on the newest exchange.
    await page
      .getByTestId('message-user-text')
      .filter({ hasText: `第 ${turns} 个问题` })
      .waitFor()
    const rendered = await page.locator('[data-testid="message-user"], [data-testid="message-assistant"]').count()
    expect(rendered).toBeGreaterThan(0)
    expect(rendered).toBeLessThan(turns)
    // Scrolling to the top brings the first exchange in.
    await page.getByTestId('message-list').evaluate((el) => el.scrollTo({ top: 0 }))
    await page
      .getByTestId('message-user-text')
      .filter({ hasText: /^第 1 个问题$/ })
      .waitFor()
    expect(
      await page
        .getByTestId('message-user-text')
        .filter({ hasText: `第 ${turns} 个问题` })
        .count(),
    ).toBe(0)
    expect(problems).toEqual([])
    await context.close()
  })
})

describe('installable app', () => {
  it('registers a service worker that never caches the API', async () => {
    const { context, page, problems } = await newPage(browser)
    await page.goto(`${server.url}/login`)
    await page.getByRole('heading', { name: zh.auth.loginTitle }).waitFor()
    const scope = await page.evaluate(async () => (await navigator.serviceWorker.ready).scope)
    expect(scope).toBe(`${server.url}/`)
    const manifest = (await (await fetch(`${server.url}/manifest.webmanifest`)).json()) as {
      display: string
      icons: unknown[]
    }
    expect(manifest.display).toBe('standalone')
    expect(manifest.icons.length).toBeGreaterThan(0)
    // After a visit the shell is cached; API answers are not.
    await page.reload()
    await page.getByRole('heading', { name: zh.auth.loginTitle }).waitFor()
    const cached = await page.evaluate(async () => {
      const urls: string[] = []
      for (const name of await caches.keys()) {
        for (const request of await (await caches.open(name)).keys()) urls.push(new URL(request.url).pathname)
      }
      return urls
    })
    expect(cached).toContain('/')
    expect(cached.some((p) => p.startsWith('/assets/'))).toBe(true)
    expect(cached.filter((p) => p.startsWith('/api/'))).toEqual([])
    expect(problems).toEqual([])
    await context.close()
  })
})
