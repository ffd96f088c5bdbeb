import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { en } from '../apps/web/src/i18n/en'
import { zhCN as zh } from '../apps/web/src/i18n/zh-CN'
import { firstAdmin, startServerAndBrowser, stopServerAndBrowser, type RunningServer } from './harness'
import { newPage, openDropdowns, registerInPage, shot, signInInPage, switchToDarkTheme, uniqueEmail } from './pages'

const REFRESH_COOKIE = '__Host-qiao_rt'

let server: RunningServer
let browser: Browser

beforeAll(async () => {
  ;({ server, browser } = await startServerAndBrowser())
})

afterAll(() => stopServerAndBrowser({ server, browser }))

describe('signing up and staying signed in', () => {
  it('registers, lands in the app, survives a reload, and signs out for good', async () => {
    const { context, page, problems } = await newPage(browser)

    // A stranger is sent to the login page.
    await page.goto(`${server.url}/`)
    await page.waitForURL('**/login')
    await page.getByRole('heading', { name: zh.auth.loginTitle }).waitFor()
    await shot(page, 'login.png')

    // Register, submitting with the keyboard.
    await page.getByRole('link', { name: zh.auth.toRegister }).click()
    await page.waitForURL('**/register')
    // The router keeps the old page on screen while the new one's code loads: wait for the form.
    await page.getByRole('heading', { name: zh.auth.registerTitle }).waitFor()
    await page.getByLabel(zh.auth.email, { exact: true }).fill(uniqueEmail('signup'))
    await page.getByLabel(zh.auth.password, { exact: true }).fill('a long passphrase for e2e')
    await page.getByLabel(zh.auth.displayName).fill('测试用户')
    const registered = page.waitForResponse((r) => r.url().endsWith('/api/auth/register'))
    await page.getByLabel(zh.auth.displayName).press('Enter')
    const registerResponse = await registered
    expect(registerResponse.status()).toBe(201)
    const tokens = (await registerResponse.json()) as { accessToken: string; refreshToken: string }

    // Lands in the app shell.
    await page.waitForURL(`${server.url}/`)
    await page.getByTestId('chat-home').waitFor()
    expect(await page.getByTestId('greeting').textContent()).toContain('测试用户')
    await page.getByTestId('user-menu').waitFor()

    // SECURITY B6: no token in web storage or in script-readable cookies; the refresh cookie is
    // HttpOnly, Secure, SameSite=Strict and __Host- prefixed.
    const exposed = await page.evaluate(() => ({
      local: JSON.stringify({ ...localStorage }),
      session: JSON.stringify({ ...sessionStorage }),
      cookie: document.cookie,
      url: location.href,
    }))
    for (const place of Object.values(exposed)) {
      expect(place).not.toContain(tokens.accessToken)
      expect(place).not.toContain(tokens.refreshToken)
      expect(place).not.toMatch(/eyJ[\w-]+\.eyJ/) // any JWT
    }
    const cookie = (await context.cookies()).find((c) => c.name === REFRESH_COOKIE)
    expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/' })

    // Reload: the session comes back from the HttpOnly cookie alone.
    const refreshed = page.waitForResponse((r) => r.url().endsWith('/api/auth/refresh'))
    await page.reload()
    expect((await refreshed).status()).toBe(200)
    await page.getByTestId('chat-home').waitFor()
    expect(page.url()).toBe(`${server.url}/`)
    expect(await page.getByTestId('greeting').textContent()).toContain('测试用户')
    await shot(page, 'desktop-light.png')

    // Settings → devices lists this browser, tagged as this device.
    await page.getByRole('menuitem', { name: zh.nav.settings }).click()
    await page.waitForURL('**/settings')
    await page.getByRole('tab', { name: zh.settings.sessionsTab }).click()
    await page.getByTestId('sessions').getByText(zh.settings.thisDevice).waitFor()
    await shot(page, 'settings-sessions.png')

    // Dark theme through the header switch.
    await page.getByRole('menuitem', { name: zh.nav.chat }).click()
    await page.getByTestId('chat-home').waitFor()
    await switchToDarkTheme(page)
    await openDropdowns(page).waitFor({ state: 'detached' })
    await page.mouse.move(640, 500) // away from the switch, so no tooltip covers the screenshot
    await shot(page, 'desktop-dark.png')

    // A phone: the sidebar becomes a drawer behind the menu button.
    await page.setViewportSize({ width: 390, height: 844 })
    await page.getByRole('button', { name: zh.nav.openMenu }).waitFor()
    await shot(page, 'phone.png')
    await page.getByRole('button', { name: zh.nav.openMenu }).click()
    await page.locator('.ant-drawer-open').getByRole('menuitem', { name: zh.nav.settings }).waitFor()
    await shot(page, 'phone-menu.png')
    await page.keyboard.press('Escape')
    await page.setViewportSize({ width: 1280, height: 800 })

    // English through the header switch; the choice is saved on the account too.
    await page.getByTestId('language-switch').click()
    const savedLanguage = page.waitForResponse((r) => r.url().endsWith('/api/me') && r.request().method() === 'PATCH')
    await page.getByRole('menuitem', { name: 'English' }).click()
    expect((await savedLanguage).status()).toBe(200)
    await page.getByRole('menuitem', { name: en.nav.settings }).waitFor()
    await openDropdowns(page).waitFor({ state: 'detached' })
    await shot(page, 'desktop-dark-en.png')

    // Sign out from the user menu: back at /login, the cookie is gone, and a reload stays out.
    await page.getByTestId('user-menu').click()
    const loggedOut = page.waitForResponse((r) => r.url().endsWith('/api/auth/logout'))
    await page.getByRole('menuitem', { name: en.header.signOut }).click()
    expect((await loggedOut).status()).toBe(204)
    await page.waitForURL('**/login')
    expect((await context.cookies()).find((c) => c.name === REFRESH_COOKIE)).toBeUndefined()

    const refreshAfterLogout = page.waitForResponse((r) => r.url().endsWith('/api/auth/refresh'))
    await page.reload()
    expect((await refreshAfterLogout).status()).toBe(401)
    await page.getByRole('heading', { name: en.auth.loginTitle }).waitFor()
    expect(page.url()).toBe(`${server.url}/login`)

    expect(problems).toEqual([])
    await context.close()
  })

  it('explains refused passwords, taken emails and wrong credentials in words', async () => {
    const { context, page, problems } = await newPage(browser)
    const email = uniqueEmail('errors')
    await page.goto(`${server.url}/register`)
    await page.getByRole('heading', { name: zh.auth.registerTitle }).waitFor()
    await page.getByLabel(zh.auth.email, { exact: true }).fill(email)

    // Too short: caught in the browser before sending.
    await page.getByLabel(zh.auth.password, { exact: true }).fill('short')
    await page.getByTestId('register-submit').click()
    await page.getByText(zh.validation.passwordTooShort).waitFor()

    // A common password: refused by the server, shown next to the password field.
    await page.getByLabel(zh.auth.password, { exact: true }).fill('password123')
    const refused = page.waitForResponse((r) => r.url().endsWith('/api/auth/register'))
    await page.getByTestId('register-submit').click()
    expect((await refused).status()).toBe(400)
    await page.getByText(zh.errors.PASSWORD_BREACHED).waitFor()
    await shot(page, 'register-refused.png')

    // Register for real, sign out, then try the same email again.
    await page.getByLabel(zh.auth.password, { exact: true }).fill('another long passphrase')
    await page.getByTestId('register-submit').click()
    await page.getByTestId('chat-home').waitFor()
    await page.getByTestId('user-menu').click()
    await page.getByRole('menuitem', { name: zh.header.signOut }).click()
    await page.waitForURL('**/login')

    await page.getByRole('link', { name: zh.auth.toRegister }).click()
    await page.getByRole('heading', { name: zh.auth.registerTitle }).waitFor()
    await page.getByLabel(zh.auth.email, { exact: true }).fill(email)
    await page.getByLabel(zh.auth.password, { exact: true }).fill('yet another long passphrase')
    await page.getByTestId('register-submit').click()
    await page.getByText(zh.errors.EMAIL_TAKEN).waitFor()

    // Wrong password on the login page: one message that does not say which part was wrong.
    await page.getByRole('link', { name: zh.auth.toLogin }).click()
    await page.getByRole('heading', { name: zh.auth.loginTitle }).waitFor()
    await page.getByLabel(zh.auth.loginField).fill(email)
    await page.getByLabel(zh.auth.password, { exact: true }).fill('not the password at all')
    await page.getByLabel(zh.auth.password, { exact: true }).press('Enter')
    await page.getByText(zh.errors.AUTH_INVALID_CREDENTIALS).waitFor()

    // And the right one gets in.
    await page.getByLabel(zh.auth.password, { exact: true }).fill('another long passphrase')
    await page.getByTestId('login-submit').click()
    await page.getByTestId('chat-home').waitFor()

    expect(problems).toEqual([])
    await context.close()
  })

  it('refreshes the session silently shortly before the access token expires', async () => {
    const { context, page, problems } = await newPage(browser)
    // The page's clock is controllable; the server's is real (the cookie does not care).
    await page.clock.install()
    const { expiresIn } = await registerInPage(server, page, 'silent')

    // Just before expiry the app trades the cookie for a new pair, without any user action.
    const refreshed = page.waitForResponse((r) => r.url().endsWith('/api/auth/refresh'))
    await page.clock.fastForward((expiresIn - 30) * 1000)
    expect((await refreshed).status()).toBe(200)

    // The new access token works, and it is still the same single session.
    await page.getByRole('menuitem', { name: zh.nav.settings }).click()
    await page.getByRole('tab', { name: zh.settings.sessionsTab }).click()
    await page.getByTestId('sessions').getByText(zh.settings.thisDevice).waitFor()
    expect(await page.getByTestId('sessions').getByRole('listitem').count()).toBe(1)

    expect(problems).toEqual([])
    await context.close()
  })

  it('shows the admin console to admins only', async () => {
    // The admin the first boot created signs in with the one-time password it printed.
    const admin = await newPage(browser)
    await signInInPage(server, admin.page, firstAdmin(server), { landOn: 'user-menu' })
    await admin.page.getByRole('menuitem', { name: zh.nav.admin }).click()
    await admin.page.waitForURL('**/admin')
    await admin.page.getByTestId('admin-page').waitFor()
    expect(admin.problems).toEqual([])
    await admin.context.close()

    // A regular user has no admin entry, and the address itself answers "not found".
    const user = await newPage(browser)
    await registerInPage(server, user.page, 'plain')
    expect(await user.page.getByRole('menuitem', { name: zh.nav.admin }).count()).toBe(0)
    await user.page.goto(`${server.url}/admin`)
    await user.page.getByText(zh.app.notFoundTitle).first().waitFor()
    expect(await user.page.getByTestId('admin-page').count()).toBe(0)
    expect(user.problems).toEqual([])
    await user.context.close()
  })

  it('keeps a long email address inside a phone screen: greeting, user menu and profile', async () => {
    const { context, page, problems } = await newPage(browser, { viewport: { width: 390, height: 844 } })
    // No display name: the greeting and the user menu fall back to the address itself.
    const { email } = await registerInPage(server, page, 'an-address-far-too-long-for-one-line-on-a-phone')
    const pageWidth = () => page.evaluate(() => document.documentElement.scrollWidth)
    expect(await pageWidth()).toBeLessThanOrEqual(390)
    // The greeting is one line, cut with an ellipsis; its title holds all of it.
    expect(await page.getByTestId('greeting').getAttribute('title')).toContain(email)

    // The user menu shows the whole address, wrapped, inside the screen.
    await page.getByTestId('user-menu').click()
    const menu = openDropdowns(page)
    await menu.waitFor()
    await expect.poll(() => menu.textContent()).toContain(email)
    const box = await menu.boundingBox()
    expect(box!.x).toBeGreaterThanOrEqual(0)
    expect(box!.x + box!.width).toBeLessThanOrEqual(390)
    await shot(page, 'phone-long-email-menu.png', { fullPage: false })

    // The profile shows it wrapped after the "@", not spilling sideways.
    await page.getByRole('menuitem', { name: zh.nav.settings }).click()
    await page.waitForURL('**/settings')
    await page.locator('.ant-descriptions').getByText(email.split('@')[1]!).waitFor()
    expect(await pageWidth()).toBeLessThanOrEqual(390)
    await shot(page, 'phone-long-email-profile.png')

    expect(problems).toEqual([])
    await context.close()
  })
})
