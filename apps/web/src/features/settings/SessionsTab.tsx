import { DesktopOutlined, MobileOutlined } from '@ant-design/icons'
import type { Session } from '@qiao/shared'
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { App, Button, Empty, Flex, Popconfirm, Skeleton, Tag, Tooltip, Typography, theme } from 'antd'
import { useTranslation } from 'react-i18next'
import { api } from '../../api/client'
import { ErrorAlert } from '../../components/ErrorAlert'
import { formatDateTime, formatRelative } from '../../components/format'

/** Lists answer `{ items, nextCursor }` (API.md, "Conventions"). */
interface SessionList {
  items: Session[]
  nextCursor?: string | null
}

const PHONE_UA = /\b(android|ios|iphone|ipad|mobile|harmonyos)\b/i

async function fetchSessions(): Promise<Session[]> {
  const list = await api.get<SessionList>('/api/auth/sessions')
  // This device first, then the most recently used.
  return [...list.items].sort(
    (a, b) => Number(b.current) - Number(a.current) || b.lastUsedAt.localeCompare(a.lastUsedAt),
  )
}

export function SessionsTab() {
  const { t } = useTranslation()
  const { message } = App.useApp()
  const queryClient = useQueryClient()
  const query = useQuery({ queryKey: ['sessions'], queryFn: fetchSessions })

  const revoke = useMutation({
    mutationFn: (ids: string[]) =>
      Promise.all(ids.map((id) => api.delete(`/api/auth/sessions/${encodeURIComponent(id)}`))),
    onSuccess: (_res, ids) =>
      void message.success(ids.length > 1 ? t('settings.revokedOthers') : t('settings.revoked')),
    onSettled: () => void queryClient.invalidateQueries({ queryKey: ['sessions'] }),
  })

  if (query.isPending) return <Skeleton active paragraph={{ rows: 4 }} />
  if (query.isError) return <ErrorAlert error={query.error} />

  const sessions = query.data
  const others = sessions.filter((s) => !s.current)

  return (
    <Flex vertical gap={16}>
      <Typography.Paragraph type="secondary" style={{ margin: 0 }}>
        {t('settings.sessionsHint')}
      </Typography.Paragraph>
      <ErrorAlert error={revoke.error} />
      <Flex vertical gap={8} role="list" data-testid="sessions">
        {sessions.map((session) => (
          <SessionRow
            key={session.id}
            session={session}
            pending={revoke.isPending}
            onRevoke={() => revoke.mutate([session.id])}
          />
        ))}
      </Flex>
      {others.length === 0 ? (
        <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('settings.noOtherSessions')} />
      ) : (
        others.length > 1 && (
          <Popconfirm
            title={t('settings.revokeOthersConfirm')}
            okText={t('settings.confirm')}
            cancelText={t('settings.cancel')}
            onConfirm={() => revoke.mutate(others.map((s) => s.id))}
          >
            <Button danger style={{ alignSelf: 'flex-start' }} loading={revoke.isPending}>
              {t('settings.revokeOthers')}
            </Button>
          </Popconfirm>
        )
      )}
    </Flex>
  )
}

function SessionRow({ session, pending, onRevoke }: { session: Session; pending: boolean; onRevoke: () => void }) {
  const { t, i18n } = useTranslation()
  const { token } = theme.useToken()
  // The server describes devices as "Chrome on Windows"; shown language-neutrally as "Chrome · Windows".
  const parts = /^(.+) on (.+)$/.exec(session.device?.trim() ?? '')
  const device = parts ? `${parts[1]} · ${parts[2]}` : session.device?.trim() || t('settings.unknownDevice')
  const isPhone = PHONE_UA.test(session.device ?? '')

  return (
    <Flex
      role="listitem"
      align="center"
      gap={12}
      wrap
      style={{
        padding: '12px 16px',
        border: `1px solid ${session.current ? token.colorPrimaryBorder : token.colorBorderSecondary}`,
        borderRadius: token.borderRadiusLG,
        background: session.current ? token.colorPrimaryBg : token.colorBgContainer,
      }}
    >
      <span style={{ fontSize: 24, color: token.colorTextSecondary }} aria-hidden="true">
        {isPhone ? <MobileOutlined /> : <DesktopOutlined />}
      </span>
      <Flex vertical style={{ flex: '1 1 220px', minWidth: 0 }}>
        <Flex align="center" gap={8} style={{ minWidth: 0 }}>
          <Tooltip title={session.device ?? undefined}>
            <Typography.Text strong ellipsis style={{ minWidth: 0 }}>
              {device}
            </Typography.Text>
          </Tooltip>
          {session.current && (
            <Tag color="processing" style={{ marginInlineEnd: 0 }}>
              {t('settings.thisDevice')}
            </Tag>
          )}
        </Flex>
        <Typography.Text type="secondary" style={{ fontSize: 12 }}>
          {t('settings.ip', { ip: session.ip ?? t('settings.unknownIp') })} ·{' '}
          <Tooltip title={formatDateTime(session.lastUsedAt, i18n.language)}>
            <span>{t('settings.lastUsed', { time: formatRelative(session.lastUsedAt, i18n.language) })}</span>
          </Tooltip>{' '}
          · {t('settings.signedInAt', { time: formatDateTime(session.createdAt, i18n.language) })}
        </Typography.Text>
      </Flex>
      {!session.current && (
        <Popconfirm
          title={t('settings.revokeConfirm')}
          okText={t('settings.confirm')}
          cancelText={t('settings.cancel')}
          onConfirm={onRevoke}
        >
          <Button size="small" danger disabled={pending}>
            {t('settings.revoke')}
          </Button>
        </Popconfirm>
      )}
    </Flex>
  )
}
