import type { Conversation, FileInfo, Message, ModelInfo } from '@qiao/shared'
import { api, ApiError } from '../../api/client'
import { toApiError } from '../../api/http'
import { refreshSession, useSession } from '../../api/session'

/** The calls the chat page makes (API.md "Conversations", "Files", "Models"). */

export interface Page<T> {
  items: T[]
  nextCursor: string | null
}

export interface MessagePage extends Page<Message> {
  /** The leaf this branch ends at; send it back as `leafId` to stay on this branch. */
  leafId: string | null
}

export interface ConversationFilter {
  q: string
  archived: boolean
}

export const chatKeys = {
  models: ['models'] as const,
  conversations: (filter?: ConversationFilter) =>
    filter ? (['conversations', filter] as const) : (['conversations'] as const),
  conversation: (id: string) => ['conversation', id] as const,
  messages: (id: string, leafId?: string | null) =>
    leafId === undefined ? (['messages', id] as const) : (['messages', id, leafId ?? 'latest'] as const),
}

const qs = (params: Record<string, string | number | boolean | undefined | null>) => {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value))
  }
  const text = search.toString()
  return text ? `?${text}` : ''
}

export const chatApi = {
  models: () => api.get<{ items: ModelInfo[] }>('/api/models').then((r) => r.items),

  conversations: (filter: ConversationFilter, cursor?: string) =>
    api.get<Page<Conversation>>(
      `/api/conversations${qs({ q: filter.q.trim(), archived: filter.archived ? 'true' : undefined, limit: 30, cursor })}`,
    ),
  conversation: (id: string) => api.get<Conversation>(`/api/conversations/${encodeURIComponent(id)}`),
  createConversation: (body: { model?: string }) => api.post<Conversation>('/api/conversations', body),
  updateConversation: (id: string, body: { title?: string; pinned?: boolean; archived?: boolean; model?: string }) =>
    api.patch<Conversation>(`/api/conversations/${encodeURIComponent(id)}`, body),
  deleteConversation: (id: string) => api.delete(`/api/conversations/${encodeURIComponent(id)}`),

  messages: (id: string, options: { leafId?: string | null; cursor?: string; limit?: number }) =>
    api.get<MessagePage>(
      `/api/conversations/${encodeURIComponent(id)}/messages${qs({ leafId: options.leafId, cursor: options.cursor, limit: options.limit ?? 100 })}`,
    ),

  /** Multipart upload; the server decides the type from the bytes, not from the name. */
  upload: (file: File) =>
    authorizedFetch('/api/files', () => {
      const form = new FormData()
      form.append('file', file, file.name)
      return { method: 'POST', body: form }
    }).then((r) => r.json() as Promise<FileInfo>),

  /**
   * A stored image as a blob URL. File URLs need the bearer token, which an <img src> cannot
   * send; the caller revokes the URL when done.
   */
  fileBlobUrl: async (url: string) => URL.createObjectURL(await (await authorizedFetch(url, () => ({}))).blob()),
}

/**
 * fetch() with the in-memory access token, refreshing once on a 401 like the JSON client does.
 * `init` is a factory because a request body (FormData, a stream) may only be sent once.
 */
export async function authorizedFetch(path: string, init: () => RequestInit): Promise<Response> {
  const attempt = async () => {
    const token = useSession.getState().accessToken
    const base = init()
    const headers = new Headers(base.headers)
    if (token) headers.set('authorization', `Bearer ${token}`)
    try {
      return { token, response: await fetch(path, { ...base, headers, credentials: 'same-origin', cache: 'no-store' }) }
    } catch (err) {
      if (err instanceof DOMException && err.name === 'AbortError') throw err
      throw new ApiError('NETWORK', 'Network request failed', 0)
    }
  }
  const first = await attempt()
  let response = first.response
  if (response.status === 401) {
    const current = useSession.getState().accessToken
    const fresh = current && current !== first.token ? true : await refreshSession()
    if (fresh) response = (await attempt()).response
  }
  if (!response.ok) throw await toApiError(response)
  return response
}
