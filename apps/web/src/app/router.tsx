import { Button, Flex, Result, Spin } from 'antd'
import { lazy, Suspense, type ReactNode } from 'react'
import { useTranslation } from 'react-i18next'
import { createBrowserRouter, Navigate, Outlet, useLocation, useNavigate } from 'react-router-dom'
import { useSession } from '../api/session'
import { usePageTitle } from '../components/usePageTitle'
import { AppShell } from './AppShell'

// Each page is its own chunk: the login page does not download settings, and so on.
const LoginPage = lazy(() => import('../features/auth/LoginPage').then((m) => ({ default: m.LoginPage })))
const RegisterPage = lazy(() => import('../features/auth/RegisterPage').then((m) => ({ default: m.RegisterPage })))
const ChatPage = lazy(() => import('../features/chat/ChatPage').then((m) => ({ default: m.ChatPage })))
const SettingsPage = lazy(() => import('../features/settings/SettingsPage').then((m) => ({ default: m.SettingsPage })))
const AdminPage = lazy(() => import('../features/admin/AdminPage').then((m) => ({ default: m.AdminPage })))
const UsagePage = lazy(() => import('../features/usage/UsagePage').then((m) => ({ default: m.UsagePage })))
const BillingPage = lazy(() => import('../features/billing/BillingPage').then((m) => ({ default: m.BillingPage })))
const PlaygroundPage = lazy(() => import('../features/playground/PlaygroundPage').then((m) => ({ default: m.PlaygroundPage })))

/** Where a signed-out visitor was going, so signing in takes them back there. */
export interface FromState {
  from?: string
}

function RequireAuth() {
  const status = useSession((s) => s.status)
  const location = useLocation()
  if (status === 'signedIn') return <AppShell />
  const from = location.pathname + location.search
  return <Navigate to="/login" replace state={{ from } satisfies FromState} />
}

/** Admin pages answer "not found" to everyone else, like the API does for objects that are not yours. */
function RequireAdmin({ children }: { children: ReactNode }) {
  const role = useSession((s) => s.user?.role)
  return role === 'admin' ? children : <NotFoundPage />
}

function GuestOnly() {
  const status = useSession((s) => s.status)
  const location = useLocation()
  if (status === 'signedIn') {
    const from = (location.state as FromState | null)?.from
    // Only same-app paths: never bounce to another origin from a crafted history state.
    const target = from && from.startsWith('/') && !from.startsWith('//') && !from.startsWith('/login') ? from : '/'
    return <Navigate to={target} replace />
  }
  return (
    <Suspense fallback={<PageSpinner />}>
      <Outlet />
    </Suspense>
  )
}

function PageSpinner() {
  return (
    <Flex align="center" justify="center" style={{ minHeight: '100dvh' }}>
      <Spin />
    </Flex>
  )
}

export function NotFoundPage() {
  const { t } = useTranslation()
  const navigate = useNavigate()
  usePageTitle(t('app.notFoundTitle'))
  return (
    <Result
      status="404"
      title={t('app.notFoundTitle')}
      subTitle={t('app.notFoundHint')}
      extra={
        <Button type="primary" onClick={() => void navigate('/')}>
          {t('app.backHome')}
        </Button>
      }
    />
  )
}

/** A page chunk failed to load (usually a new release replaced it): offer a reload. */
function RouteError() {
  const { t } = useTranslation()
  return (
    <Flex align="center" justify="center" style={{ minHeight: '100dvh', padding: 16 }}>
      <Result
        status="error"
        title={t('app.loadFailed')}
        extra={
          <Button type="primary" onClick={() => window.location.reload()}>
            {t('app.reload')}
          </Button>
        }
      />
    </Flex>
  )
}

export const router = createBrowserRouter([
  {
    errorElement: <RouteError />,
    children: [
      {
        element: <GuestOnly />,
        children: [
          { path: '/login', element: <LoginPage /> },
          { path: '/register', element: <RegisterPage /> },
        ],
      },
      {
        path: '/',
        element: <RequireAuth />,
        children: [
          { index: true, element: <ChatPage /> },
          { path: 'c/:id', element: <ChatPage /> },
          { path: 'settings', element: <SettingsPage /> },
          { path: 'usage', element: <UsagePage /> },
          { path: 'billing', element: <BillingPage /> },
          { path: 'playground', element: <PlaygroundPage /> },
          {
            // One address per admin section (/admin/users, …); AdminPage answers unknown ones with "not found".
            path: 'admin/:tab?',
            element: (
              <RequireAdmin>
                <AdminPage />
              </RequireAdmin>
            ),
          },
          { path: '*', element: <NotFoundPage /> },
        ],
      },
    ],
  },
])
