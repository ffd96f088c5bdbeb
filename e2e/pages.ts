import type { Browser, BrowserContext, Page } from 'playwright-core'
import { expect } from 'vitest'
import { zhCN as zh } from '../apps/web/src/i18n/zh-CN'
import { artifactPath, type RunningServer } from './harness'

// Browser-side helpers shared by the spec files: fresh pages, screenshots, and the sign-up and
// sign-in forms used as a test's starting point. The server-side ones are in harness.ts.

export interface TestPage {
  context: BrowserContext
  page: Page
  /** CSP violations and uncaught exceptions seen so far: a test ends with `expect(problems).toEqual([])`. */
  problems: string[]
}

export interface PageOptions {
  /** 'light' unless told. */
  colorScheme?: 'light' | 'dark'
  /** 1280×800 (a desktop) unless told. */
  viewport?: { width: number; height: number }
}

/** A fresh browser profile (no cookies, no storage), in Chinese and, unless told, light mode like most of our users. */
export async function newPage(browser: Browser, options: PageOptions = {}): Promise<TestPage> {
  const context = await browser.newContext({
    viewport: options.viewport ?? { width: 1280, height: 800 },
    locale: 'zh-CN',
    colorScheme: options.colorScheme ?? 'light',
  })
  const page = await context.newPage()
  // CSP violations (an inline script sneaking into index.html) and uncaught exceptions fail the test.
  const problems: string[] = []
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(msg.text())) problems.push(msg.text())
  })
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`))
  return { context, page, problems }
}

/**
 * Screenshots for people to look at (e2e/artifacts, git-ignored); animations are settled first.
 * The whole page unless `fullPage: false` (the viewport only).
 */
export const shot = (page: Page, name: string, { fullPage = true }: { fullPage?: boolean } = {}) =>
  page.screenshot({ path: artifactPath(name), animations: 'disabled', fullPage })

/** Waits until ECharts reports the chart fully drawn, animation included (EChart sets the attribute). */
export const chartDrawn = (page: Page, testId: string) =>
  page.locator(`[data-testid="${testId}"] [data-chart-state="finished"]`).waitFor()

/** antd dropdown menus still on screen (they stay in the DOM, hidden, once closed). */
export const openDropdowns = (page: Page) => page.locator('.ant-dropdown:not(.ant-dropdown-hidden)')

/** antd Select option lists still on screen (closed ones stay in the DOM, hidden). */
export const openSelectDropdown = (page: Page) => page.locator('.ant-select-dropdown:not(.ant-select-dropdown-hidden)')

/** Switches to the dark theme through the header switch and waits until the page is dark. */
export async function switchToDarkTheme(page: Page): Promise<void> {
  await page.getByTestId('theme-switch').click()
  await page.getByRole('menuitem', { name: zh.header.themeDark }).click()
  await page.waitForFunction(() => document.documentElement.style.colorScheme === 'dark')
}

/** An email address no other test (or earlier run against the same server) has used: `e2e-<tag>-…@example.com`. */
export const uniqueEmail = (tag: string) => `e2e-${tag}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`

/** The password of the accounts registerInPage makes. */
export const PASSPHRASE = 'a long passphrase for e2e'

export interface RegisterOptions {
  /** Typed into the optional display-name field; left empty unless given. */
  displayName?: string
  /** The test id to wait for once signed up: the chat home, where a new account lands, unless told. */
  landOn?: string
}

/**
 * Registers a new account through the form (email from uniqueEmail(tag), password PASSPHRASE) and waits
 * until the app shows `landOn`; returns the email and what the register call answered.
 */
export async function registerInPage(
  server: RunningServer,
  page: Page,
  tag: string,
  { displayName, landOn = 'chat-home' }: RegisterOptions = {},
): Promise<{ email: string; token: string; expiresIn: number }> {
  const email = uniqueEmail(tag)
  await page.goto(`${server.url}/register`)
  await page.getByRole('heading', { name: zh.auth.registerTitle }).waitFor()
  await page.getByLabel(zh.auth.email, { exact: true }).fill(email)
  await page.getByLabel(zh.auth.password, { exact: true }).fill(PASSPHRASE)
  if (displayName) await page.getByLabel(zh.auth.displayName).fill(displayName)
  const registered = page.waitForResponse((r) => r.url().endsWith('/api/auth/register'))
  await page.getByTestId('register-submit').click()
  const response = await registered
  expect(response.status()).toBe(201)
  const { accessToken, expiresIn } = (await response.json()) as { accessToken: string; expiresIn: number }
  await page.getByTestId(landOn).waitFor()
  return { email, token: accessToken, expiresIn }
}

/**
 * Signs in through the login form (submitted with Enter in the password field) and waits until the
 * app shows `landOn`: the chat home unless told.
 */
export async function signInInPage(
  server: RunningServer,
  page: Page,
  account: { email: string; password: string },
  { landOn = 'chat-home' }: { landOn?: string } = {},
): Promise<void> {
  await page.goto(`${server.url}/login`)
  await page.getByRole('heading', { name: zh.auth.loginTitle }).waitFor()
  await page.getByLabel(zh.auth.loginField).fill(account.email)
  await page.getByLabel(zh.auth.password, { exact: true }).fill(account.password)
  await page.getByLabel(zh.auth.password, { exact: true }).press('Enter')
  await page.getByTestId(landOn).waitFor()
}
