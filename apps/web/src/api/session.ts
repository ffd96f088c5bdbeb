import type { AuthResult, LoginBody, RegisterBody, User } from '@qiao/shared'
import { create } from 'zustand'
import { ApiError, send } from './http'

/**
 * The browser session. The access token lives only in this in-memory store: never in
 * localStorage, sessionStorage or a URL. The refresh token is an HttpOnly cookie the server sets;
 * script never sees it, and the copy in the JSON body is deliberately dropped.
 */
export type SessionStatus =
  /** Asking the server whether the cookie still holds a session (app start). */
  | 'restoring'
  | 'signedIn'
  | 'signedOut'
  /** The server could not be reached while restoring; the cookie may still be good. */
  | 'unreachable'

export interface SessionState {
  status: SessionStatus
  user: User | null
  accessToken: string | null
  /** Why the app signed the user out by itself (expired or revoked session), shown on /login. */
  endedBy: ApiError['code'] | null
}

export const useSession = create<SessionState>(() => ({
  status: 'restoring',
  user: null,
  accessToken: null,
  endedBy: null,
}))

// Refresh this long before the access token expires, so calls never race the expiry.
const REFRESH_MARGIN_MS = 60_000
const MIN_REFRESH_DELAY_MS = 5_000
const RETRY_AFTER_OFFLINE_MS = 30_000

let refreshTimer: ReturnType<typeof setTimeout> | undefined
let expiresAt = 0
let inflight: Promise<boolean> | undefined

/** Other tabs of this origin hear about sign-in and sign-out, so they never act on a dead session. */
const channel = typeof BroadcastChannel === 'undefined' ? undefined : new BroadcastChannel('qiao-session')
type TabMessage = { type: 'signedIn' } | { type: 'signedOut' }

channel?.addEventListener('message', (event: MessageEvent<TabMessage>) => {
  if (event.data.type === 'signedOut' && useSession.getState().status === 'signedIn') {
    endSession(null)
  } else if (event.data.type === 'signedIn' && useSession.getState().status !== 'signedIn') {
    refreshSession().catch(() => undefined)
  }
})

function startSession(result: AuthResult): void {
  // `result.refreshToken` is intentionally not kept: the HttpOnly cookie carries it.
  expiresAt = Date.now() + result.expiresIn * 1000
  useSession.setState({ status: 'signedIn', user: result.user, accessToken: result.accessToken, endedBy: null })
  scheduleRefresh(result.expiresIn * 1000)
}

function scheduleRefresh(lifetimeMs: number): void {
  clearTimeout(refreshTimer)
  const delay = Math.max(MIN_REFRESH_DELAY_MS, lifetimeMs - REFRESH_MARGIN_MS)
  refreshTimer = setTimeout(() => {
    // Offline at that moment: try again shortly; a 401 on the next call also triggers a refresh.
    refreshSession().catch(() => scheduleRefresh(RETRY_AFTER_OFFLINE_MS + REFRESH_MARGIN_MS))
  }, delay)
}

function endSession(reason: ApiError['code'] | null): void {
  clearTimeout(refreshTimer)
  expiresAt = 0
  useSession.setState({ status: 'signedOut', user: null, accessToken: null, endedBy: reason })
}

/**
 * Trades the refresh cookie for a new token pair. Single-flight within the tab (concurrent
 * callers share one request) and serialised across tabs with a Web Lock: two tabs presenting the
 * same rotating refresh token at once would look like token theft and revoke the whole session.
 * Resolves true when signed in afterwards; false when the server said the session is over.
 * Network failures reject with ApiError('NETWORK') and leave the current state alone.
 */
export function refreshSession(): Promise<boolean> {
  inflight ??= withRefreshLock(doRefresh).finally(() => {
    inflight = undefined
  })
  return inflight
}

async function doRefresh(): Promise<boolean> {
  try {
    const result = await send<AuthResult>('/api/auth/refresh', { method: 'POST', body: {} })
    startSession(result)
    return true
  } catch (err) {
    if (err instanceof ApiError && err.status >= 400 && err.status < 500) {
      const wasSignedIn = useSession.getState().status === 'signedIn'
      endSession(wasSignedIn ? err.code : null)
      return false
    }
    throw err
  }
}

function withRefreshLock<T>(work: () => Promise<T>): Promise<T> {
  const locks = typeof navigator === 'undefined' ? undefined : navigator.locks
  return locks ? (locks.request('qiao-refresh', work) as Promise<T>) : work()
}

/** App start: the cookie, if any, restores the session without asking for the password again. */
export async function restoreSession(): Promise<void> {
  useSession.setState({ status: 'restoring' })
  try {
    await refreshSession()
  } catch {
    useSession.setState({ status: 'unreachable' })
  }
}

export async function login(body: LoginBody): Promise<User> {
  const result = await send<AuthResult>('/api/auth/login', { method: 'POST', body })
  startSession(result)
  channel?.postMessage({ type: 'signedIn' } satisfies TabMessage)
  return result.user
}

export async function register(body: RegisterBody): Promise<User> {
  const result = await send<AuthResult>('/api/auth/register', { method: 'POST', body })
  startSession(result)
  channel?.postMessage({ type: 'signedIn' } satisfies TabMessage)
  return result.user
}

/** Ends the session on the server (the cookie is revoked and cleared) and forgets it here. */
export async function logout(): Promise<void> {
  try {
    await withRefreshLock(() => send<void>('/api/auth/logout', { method: 'POST', body: {} }))
  } catch {
    // Even if the server cannot be told, this browser forgets the session; the cookie expires on its own.
  } finally {
    endSession(null)
    channel?.postMessage({ type: 'signedOut' } satisfies TabMessage)
  }
}

/** Keeps the signed-in user in step after the profile or preferences change. */
export function setUser(user: User): void {
  useSession.setState({ user })
}

/** A tab that slept past its refresh timer catches up as soon as it is visible again. */
if (typeof document !== 'undefined') {
  document.addEventListener('visibilitychange', () => {
    const { status } = useSession.getState()
    if (document.visibilityState === 'visible' && status === 'signedIn' && Date.now() > expiresAt - REFRESH_MARGIN_MS) {
      refreshSession().catch(() => undefined)
    }
  })
}
