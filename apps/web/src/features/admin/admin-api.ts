import type {
  AdminBalanceBody,
  AdminBalanceResult,
  AdminModel,
  AdminStats,
  AdminUpdateUserBody,
  AdminUser,
  AuditLog,
  Channel,
  CreateChannelBody,
  PlatformSettings,
  ProviderKeyTestResult,
  ProviderKeyView,
  Role,
  UpdateChannelBody,
  UpdateModelBody,
  UpdateSettingsBody,
  UserStatus,
} from '@qiao/shared'
import { keepPreviousData, useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { api } from '../../api/client'
import { BILLING_QUERY_KEY, pageQuery, type Page } from '../billing/billing-api'

/** Every admin query lives under this key; a write invalidates its own slice (and the audit log). */
export const ADMIN_KEY = ['admin'] as const

function useAdminMutation<TVars, TResult>(fn: (vars: TVars) => Promise<TResult>, slices: string[]) {
  const queryClient = useQueryClient()
  return useMutation({
    mutationFn: fn,
    onSuccess: async () => {
      // Every admin write is audited, so the audit log is stale after any of them.
      await Promise.all(
        [...slices, 'audit'].map((slice) => queryClient.invalidateQueries({ queryKey: [...ADMIN_KEY, slice] })),
      )
    },
  })
}

// ---- users

export interface UserFilters {
  q?: string
  role?: Role
  status?: UserStatus
}

export function useAdminUsers(filters: UserFilters) {
  return useInfiniteQuery({
    queryKey: [...ADMIN_KEY, 'users', filters],
    queryFn: ({ pageParam }) => {
      const extra = new URLSearchParams()
      for (const [k, v] of Object.entries(filters) as Array<[string, string | undefined]>) if (v) extra.set(k, v)
      return api.get<Page<AdminUser>>(`/api/admin/users?${pageQuery(20, pageParam, extra)}`)
    },
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor,
    placeholderData: keepPreviousData,
  })
}

export function useUpdateUser() {
  return useAdminMutation(
    ({ id, body }: { id: string; body: AdminUpdateUserBody }) =>
      api.patch<AdminUser>(`/api/admin/users/${encodeURIComponent(id)}`, body),
    ['users', 'stats'],
  )
}

export function useAdjustBalance() {
  const queryClient = useQueryClient()
  const mutation = useAdminMutation(
    ({ id, body }: { id: string; body: AdminBalanceBody }) =>
      api.post<AdminBalanceResult>(`/api/admin/users/${encodeURIComponent(id)}/balance`, body),
    ['users'],
  )
  return {
    ...mutation,
    // An admin adjusting their own account sees the header badge move too.
    mutateAsync: async (vars: { id: string; body: AdminBalanceBody }) => {
      const result = await mutation.mutateAsync(vars)
      await queryClient.invalidateQueries({ queryKey: BILLING_QUERY_KEY })
      return result
    },
  }
}

// ---- providers

export function useChannels() {
  return useQuery({
    queryKey: [...ADMIN_KEY, 'providers'],
    queryFn: () => api.get<{ items: Channel[] }>('/api/admin/providers'),
    select: (d) => d.items,
  })
}

const channelPath = (id: string) => `/api/admin/providers/${encodeURIComponent(id)}`
const keyPath = (channelId: string, keyId: string) => `${channelPath(channelId)}/keys/${encodeURIComponent(keyId)}`

export function useCreateChannel() {
  return useAdminMutation(
    (body: CreateChannelBody) => api.post<Channel>('/api/admin/providers', body),
    ['providers', 'models'],
  )
}

export function useUpdateChannel() {
  return useAdminMutation(
    ({ id, body }: { id: string; body: UpdateChannelBody }) => api.patch<Channel>(channelPath(id), body),
    ['providers', 'models'],
  )
}

export function useDeleteChannel() {
  return useAdminMutation((id: string) => api.delete(channelPath(id)), ['providers', 'models'])
}

export function useAddKey() {
  return useAdminMutation(
    ({ channelId, secret }: { channelId: string; secret: string }) =>
      api.post<ProviderKeyView>(`${channelPath(channelId)}/keys`, { secret }),
    ['providers'],
  )
}

export function useUpdateKey() {
  return useAdminMutation(
    ({ channelId, keyId, status }: { channelId: string; keyId: string; status: 'active' | 'disabled' }) =>
      api.patch<ProviderKeyView>(keyPath(channelId, keyId), { status }),
    ['providers'],
  )
}

export function useDeleteKey() {
  return useAdminMutation(
    ({ channelId, keyId }: { channelId: string; keyId: string }) => api.delete(keyPath(channelId, keyId)),
    ['providers'],
  )
}

export function useTestKey() {
  return useAdminMutation(
    ({ channelId, keyId }: { channelId: string; keyId: string }) =>
      api.post<ProviderKeyTestResult>(`${keyPath(channelId, keyId)}/test`),
    ['providers'],
  )
}

// ---- models

export function useAdminModels() {
  return useQuery({
    queryKey: [...ADMIN_KEY, 'models'],
    queryFn: () => api.get<{ items: AdminModel[] }>('/api/admin/models'),
    select: (d) => d.items,
  })
}

export function useUpdateModel() {
  const queryClient = useQueryClient()
  const mutation = useAdminMutation(
    ({ id, body }: { id: string; body: UpdateModelBody }) =>
      api.patch<AdminModel>(`/api/admin/models/${encodeURIComponent(id)}`, body),
    ['models'],
  )
  return {
    ...mutation,
    // Users pick from /api/models: a renamed or disabled model must show there at once.
    mutateAsync: async (vars: { id: string; body: UpdateModelBody }) => {
      const result = await mutation.mutateAsync(vars)
      await queryClient.invalidateQueries({ queryKey: ['models'] })
      return result
    },
  }
}

// ---- settings

export function useSettings() {
  return useQuery({
    queryKey: [...ADMIN_KEY, 'settings'],
    queryFn: () => api.get<PlatformSettings>('/api/admin/settings'),
  })
}

export function useUpdateSettings() {
  return useAdminMutation(
    (body: UpdateSettingsBody) => api.patch<PlatformSettings>('/api/admin/settings', body),
    ['settings'],
  )
}

// ---- stats

export type StatsGroup = 'day' | 'model' | 'channel' | 'user'

export function useAdminStats(range: { from?: string; to?: string }, groupBy: StatsGroup) {
  return useQuery({
    queryKey: [...ADMIN_KEY, 'stats', range, groupBy],
    queryFn: () => {
      const params = new URLSearchParams({ groupBy })
      if (range.from) params.set('from', range.from)
      if (range.to) params.set('to', range.to)
      return api.get<AdminStats>(`/api/admin/stats?${params.toString()}`)
    },
    placeholderData: keepPreviousData,
  })
}

// ---- audit

export interface AuditFilters {
  action?: string
  actorId?: string
}

export function useAuditLogs(filters: AuditFilters) {
  return useInfiniteQuery({
    queryKey: [...ADMIN_KEY, 'audit', filters],
    queryFn: ({ pageParam }) => {
      const extra = new URLSearchParams()
      if (filters.action) extra.set('action', filters.action)
      if (filters.actorId) extra.set('actorId', filters.actorId)
      return api.get<Page<AuditLog>>(`/api/admin/audit-logs?${pageQuery(30, pageParam, extra)}`)
    },
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor,
    placeholderData: keepPreviousData,
  })
}
