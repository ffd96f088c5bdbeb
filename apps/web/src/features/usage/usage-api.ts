import { ERROR_CODES, type ErrorCode, type ModelInfo, type UsageCall, type UsageStats } from '@qiao/shared'
import { keepPreviousData, useInfiniteQuery, useQuery } from '@tanstack/react-query'
import { api, ApiError } from '../../api/client'
import { refreshSession, useSession } from '../../api/session'
import { pageQuery, type Page } from '../billing/billing-api'

export type CallStatus = UsageCall['status']
export type CallSource = UsageCall['source']

/**
 * The call filters. `from`/`to` are UTC calendar days (YYYY-MM-DD, both inclusive): the same
 * buckets the statistics use, so the list, the CSV and the totals always cover the same calls.
 */
export interface UsageFilters {
  from?: string
  to?: string
  model?: string
  status?: CallStatus
  source?: CallSource
}

export function filterParams(filters: UsageFilters): URLSearchParams {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(filters) as Array<[string, string | undefined]>) {
    if (value) params.set(key, value)
  }
  return params
}

export const USAGE_QUERY_KEY = ['usage'] as const

export function useUsageCalls(filters: UsageFilters, pageSize = 20) {
  return useInfiniteQuery({
    queryKey: [...USAGE_QUERY_KEY, 'calls', filters, pageSize],
    queryFn: ({ pageParam }) =>
      api.get<Page<UsageCall>>(`/api/usage/calls?${pageQuery(pageSize, pageParam, filterParams(filters))}`),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor,
    placeholderData: keepPreviousData,
    // Opening the page shows the calls made since (chat, API keys), not a cached list.
    refetchOnMount: 'always',
  })
}

/** Totals and a series by day or model over the calls matching the same filters as the list. */
export function useUsageStats(filters: UsageFilters, groupBy: 'day' | 'model') {
  return useQuery({
    queryKey: [...USAGE_QUERY_KEY, 'stats', filters, groupBy],
    queryFn: () => {
      const params = filterParams(filters)
      params.set('groupBy', groupBy)
      return api.get<UsageStats>(`/api/usage/stats?${params.toString()}`)
    },
    placeholderData: keepPreviousData,
    refetchOnMount: 'always',
  })
}

/**
 * The models users can pick. The cache entry `['models']` is shared with the chat page, so it
 * holds the same thing there and here: the plain array of models.
 */
export function useModels() {
  return useQuery({
    queryKey: ['models'],
    queryFn: () => api.get<{ items: ModelInfo[] }>('/api/models').then((r) => r.items),
    staleTime: 5 * 60_000,
  })
}

const KNOWN_CODES: ReadonlySet<string> = new Set(ERROR_CODES)

/** GET with the access token, refreshing once on 401: the CSV is not JSON, so the JSON client cannot fetch it. */
async function fetchWithToken(path: string): Promise<Response> {
  const attempt = () => {
    const token = useSession.getState().accessToken
    return fetch(path, {
      headers: { accept: 'text/csv', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      credentials: 'same-origin',
      cache: 'no-store',
    })
  }
  let response: Response
  try {
    response = await attempt()
    if (response.status === 401 && (await refreshSession())) response = await attempt()
  } catch (err) {
    if (err instanceof ApiError) throw err
    throw new ApiError('NETWORK', 'Network request failed', 0)
  }
  if (response.ok) return response
  const body = (await response.json().catch(() => undefined)) as
    { error?: { code?: string; message?: string; requestId?: string } } | undefined
  const code = body?.error?.code
  throw new ApiError(
    code && KNOWN_CODES.has(code) ? (code as ErrorCode) : 'UNKNOWN',
    body?.error?.message ?? response.statusText,
    response.status,
    body?.error?.requestId ?? response.headers.get('x-request-id') ?? undefined,
  )
}

/** The name the server suggests in `Content-Disposition`, else a dated default. */
export function csvFileName(disposition: string | null, today = new Date()): string {
  const star = disposition && /filename\*=UTF-8''([^;]+)/i.exec(disposition)
  if (star?.[1]) {
    try {
      return decodeURIComponent(star[1])
    } catch {
      // Malformed escape: fall through to the plain name.
    }
  }
  const plain = disposition && /filename="?([^";]+)"?/i.exec(disposition)
  return plain?.[1] ?? `qiao-usage-${today.toISOString().slice(0, 10)}.csv`
}

/** Downloads the calls matching the filters as CSV, the way a link would, but with the token. */
export async function downloadUsageCsv(filters: UsageFilters): Promise<void> {
  const response = await fetchWithToken(`/api/usage/calls.csv?${filterParams(filters).toString()}`)
  const blob = await response.blob()
  const url = URL.createObjectURL(blob)
  const link = document.createElement('a')
  link.href = url
  link.download = csvFileName(response.headers.get('content-disposition'))
  document.body.append(link)
  link.click()
  link.remove()
  // The click has started the download; the object URL can go once the browser has read it.
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}
