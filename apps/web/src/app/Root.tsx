import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { App as AntApp, ConfigProvider, theme } from 'antd'
import enUS from 'antd/locale/en_US'
import zhCN from 'antd/locale/zh_CN'
import { useEffect } from 'react'
import { RouterProvider } from 'react-router-dom'
import { ApiError } from '../api/client'
import { restoreSession, useSession } from '../api/session'
import { FullPageSpinner, UnreachablePage } from '../components/FullPageStatus'
import { syncPreferencesOnSignIn, usePreferences } from './preferences'
import { router } from './router'
import { themeConfig, useIsDark } from './theme'

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // A 4xx will not change by asking again; network blips and 5xx get two more tries.
      retry: (count, err) => !(err instanceof ApiError && err.status >= 400 && err.status < 500) && count < 2,
      refetchOnWindowFocus: false,
      staleTime: 30_000,
    },
  },
})

export function Root() {
  const dark = useIsDark()
  const language = usePreferences((s) => s.language)
  return (
    // No space forced between two CJK characters in buttons ("登 录"): it reads as a typo in Chinese.
    <ConfigProvider
      locale={language === 'en' ? enUS : zhCN}
      theme={themeConfig(dark)}
      button={{ autoInsertSpace: false }}
    >
      <PageChrome dark={dark} />
      <AntApp>
        <QueryClientProvider client={queryClient}>
          <SessionGate />
        </QueryClientProvider>
      </AntApp>
    </ConfigProvider>
  )
}

/**
 * The page outside React's tree (body, scrollbars, browser UI) follows the theme tokens too: text
 * that is not inside an antd component (portals of other libraries, the document itself) gets the
 * theme's font rather than the browser's default serif one.
 */
function PageChrome({ dark }: { dark: boolean }) {
  const { token } = theme.useToken()
  useEffect(() => {
    document.documentElement.style.colorScheme = dark ? 'dark' : 'light'
    document.body.style.background = token.colorBgLayout
    document.body.style.color = token.colorText
    document.body.style.fontFamily = token.fontFamily
    document
      .querySelector('meta[name="theme-color"]')
      ?.setAttribute('content', dark ? token.colorBgContainer : token.colorPrimary)
  }, [dark, token])
  return null
}

/** Nothing routes until we know whether the cookie restores a session: no flash of the login page. */
function SessionGate() {
  const status = useSession((s) => s.status)
  const userId = useSession((s) => s.user?.id)

  useEffect(() => {
    const user = useSession.getState().user
    if (user) void syncPreferencesOnSignIn(user.preferences)
  }, [userId])

  useEffect(() => {
    // One person's cached data must never show to the next one on this browser.
    if (status === 'signedOut') queryClient.clear()
  }, [status])

  if (status === 'restoring') return <FullPageSpinner />
  if (status === 'unreachable') return <UnreachablePage onRetry={() => void restoreSession()} />
  return <RouterProvider router={router} />
}
