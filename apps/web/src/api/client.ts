import { ApiError, send, type HttpMethod } from './http'
import { refreshSession, useSession } from './session'

export { ApiError } from './http'

/**
 * The typed wrapper every feature uses for signed-in calls. It sends the in-memory access token;
 * on a 401 it refreshes once (shared with any concurrent 401s) and retries; if the session is
 * really over, the store flips to signed-out and the router shows /login.
 */
async function request<T>(method: HttpMethod, path: string, body?: unknown): Promise<T> {
  const token = useSession.getState().accessToken
  try {
    return await send<T>(path, { method, body, token })
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401 || err.code === 'AUTH_INVALID_CREDENTIALS') throw err
    // Another call may already have refreshed while this one was in flight.
    const current = useSession.getState().accessToken
    const fresh = current && current !== token ? true : await refreshSession()
    if (!fresh) throw err
    return send<T>(path, { method, body, token: useSession.getState().accessToken })
  }
}

export const api = {
  get: <T>(path: string) => request<T>('GET', path),
  post: <T>(path: string, body: unknown = {}) => request<T>('POST', path, body),
  patch: <T>(path: string, body: unknown) => request<T>('PATCH', path, body),
  delete: <T = void>(path: string) => request<T>('DELETE', path),
}
