import type { Balance, LedgerEntry } from '@qiao/shared'
import { useInfiniteQuery, useQuery, type QueryClient } from '@tanstack/react-query'
import { api } from '../../api/client'

export interface Page<T> {
  items: T[]
  nextCursor: string | null
}

/** Everything money-related shares this prefix, so one invalidation refreshes badge, card and ledger. */
export const BILLING_QUERY_KEY = ['billing'] as const
const BALANCE_KEY = [...BILLING_QUERY_KEY, 'balance'] as const

/**
 * Call after anything that may have spent or credited money (a chat turn, an image, an admin
 * adjustment of one's own account): the header badge and the billing page refetch.
 */
export function invalidateBalance(queryClient: QueryClient): Promise<void> {
  return queryClient.invalidateQueries({ queryKey: BILLING_QUERY_KEY })
}

/** `fresh`: ask the server again on mount even if the cache is recent (the billing page itself). */
export function useBalance({ fresh = false }: { fresh?: boolean } = {}) {
  return useQuery({
    queryKey: BALANCE_KEY,
    queryFn: () => api.get<Balance>('/api/billing/balance'),
    // Money moves while the user is elsewhere (API keys, other tabs): check again on return.
    staleTime: 10_000,
    refetchOnWindowFocus: true,
    refetchOnMount: fresh ? 'always' : true,
  })
}

export function useLedger(pageSize = 20) {
  return useInfiniteQuery({
    queryKey: [...BILLING_QUERY_KEY, 'ledger', pageSize],
    queryFn: ({ pageParam }) => api.get<Page<LedgerEntry>>(`/api/billing/ledger?${pageQuery(pageSize, pageParam)}`),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor,
    // Opening the page shows what the server has now, not what was cached minutes ago.
    refetchOnMount: 'always',
  })
}

/** `limit=…&cursor=…` (cursor only when there is one). */
export function pageQuery(limit: number, cursor: string | null, extra?: URLSearchParams): string {
  const params = new URLSearchParams(extra)
  params.set('limit', String(limit))
  if (cursor) params.set('cursor', cursor)
  return params.toString()
}
