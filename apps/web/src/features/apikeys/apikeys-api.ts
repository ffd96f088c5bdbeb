import type { ApiKey, ApiKeyList, CreateApiKeyBody, CreatedApiKey, ModelInfo } from '@qiao/shared'
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { api } from '../../api/client'

/** Personal API keys (/api/keys) and the models a key may be limited to. */

export const API_KEYS_QUERY_KEY = ['apiKeys'] as const

export function useApiKeys() {
  return useQuery({
    queryKey: API_KEYS_QUERY_KEY,
    queryFn: () => api.get<ApiKeyList>('/api/keys').then((r) => r.items),
    // Last use and this month's spend change with every API call made elsewhere (a script, the
    // playground): refetch whenever the list is shown again rather than trusting the app-wide 30 s.
    staleTime: 0,
  })
}

/** Models the signed-in user may use: what a key can be limited to, and what the playground offers. */
export function useUsableModels() {
  return useQuery({
    queryKey: ['apiKeys', 'models'],
    queryFn: () => api.get<{ items: ModelInfo[] }>('/api/models').then((r) => r.items),
    staleTime: 60_000,
  })
}

export function useCreateApiKey() {
  const queryClient = useQueryClient()
  return useMutation({
    mutationFn: (body: CreateApiKeyBody) => api.post<CreatedApiKey>('/api/keys', body),
    onSettled: () => void queryClient.invalidateQueries({ queryKey: API_KEYS_QUERY_KEY }),
  })
}

export function useRevokeApiKey() {
  const queryClient = useQueryClient()
  return useMutation({
    mutationFn: (key: Pick<ApiKey, 'id'>) => api.delete(`/api/keys/${encodeURIComponent(key.id)}`),
    onSettled: () => void queryClient.invalidateQueries({ queryKey: API_KEYS_QUERY_KEY }),
  })
}

/** Expiry choices offered when creating a key, in days; 0 = never. */
export const EXPIRY_DAYS = [0, 7, 30, 90, 365] as const

export function expiryFrom(days: number, now = Date.now()): string | null {
  return days > 0 ? new Date(now + days * 86_400_000).toISOString() : null
}
