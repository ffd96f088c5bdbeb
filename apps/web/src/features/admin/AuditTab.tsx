import type { AuditLog, AuditSeverity } from '@qiao/shared'
import { Button, Empty, Flex, Input, Skeleton, Table, Tag, Tooltip, Typography, theme } from 'antd'
import type { ColumnsType } from 'antd/es/table'
import { useState } from 'react'
import { useTranslation } from 'react-i18next'
import { ErrorAlert } from '../../components/ErrorAlert'
import { formatDateTime } from '../../components/format'
import { useAuditLogs, type AuditFilters } from './admin-api'

const SEVERITY_COLORS: Record<AuditSeverity, string> = { info: 'default', warning: 'warning', high: 'error' }

/**
 * The audit log. Every field is rendered as React text (escaped): names, user agents and details
 * can hold whatever a user typed, including markup (SECURITY.md E4).
 */
export function AuditTab() {
  const { t, i18n } = useTranslation()
  const { token } = theme.useToken()
  // What is typed (draft) applies on Enter or the search button, not on every keystroke.
  const [draft, setDraft] = useState<AuditFilters>({})
  const [filters, applyFilters] = useState<AuditFilters>({})
  const setFilters = (next: (f: AuditFilters) => AuditFilters) => {
    setDraft(next)
    applyFilters(next)
  }
  const logs = useAuditLogs(filters)
  const rows = logs.data?.pages.flatMap((p) => p.items) ?? []

  const columns: ColumnsType<AuditLog> = [
    {
      title: t('admin.audit.time'),
      dataIndex: 'createdAt',
      width: 160,
      render: (iso: string) => formatDateTime(iso, i18n.language),
    },
    {
      title: t('admin.audit.severity'),
      dataIndex: 'severity',
      width: 80,
      render: (s: AuditSeverity) => <Tag color={SEVERITY_COLORS[s]}>{t(`admin.audit.severities.${s}`)}</Tag>,
    },
    {
      title: t('admin.audit.action'),
      dataIndex: 'action',
      width: 170,
      render: (action: string) => (
        <Typography.Link code onClick={() => setFilters((f) => ({ ...f, action }))}>
          {action}
        </Typography.Link>
      ),
    },
    {
      title: t('admin.audit.actor'),
      dataIndex: 'actorId',
      width: 130,
      ellipsis: true,
      render: (id: string | null) =>
        id ? (
          <Tooltip title={id}>
            <Typography.Link onClick={() => setFilters((f) => ({ ...f, actorId: id }))} style={{ fontSize: 12 }}>
              {id}
            </Typography.Link>
          </Tooltip>
        ) : (
          <Typography.Text type="secondary">{t('admin.audit.system')}</Typography.Text>
        ),
    },
    {
      title: t('admin.audit.target'),
      key: 'target',
      width: 160,
      ellipsis: true,
      render: (_, row) =>
        row.targetType ? (
          <Tooltip title={`${row.targetType}:${row.targetId ?? ''}`}>
            <span style={{ fontSize: 12 }}>
              {row.targetType}:{row.targetId ?? ''}
            </span>
          </Tooltip>
        ) : (
          '—'
        ),
    },
    { title: t('admin.audit.ip'), dataIndex: 'ip', width: 110, render: (ip: string | null) => ip ?? '—' },
    {
      title: t('admin.audit.details'),
      dataIndex: 'details',
      ellipsis: true,
      render: (details: AuditLog['details']) =>
        details ? (
          <Typography.Text type="secondary" style={{ fontSize: 12 }} data-testid="audit-details">
            {JSON.stringify(details)}
          </Typography.Text>
        ) : (
          '—'
        ),
    },
  ]

  return (
    <Flex vertical gap={12}>
      <Flex gap={8} wrap>
        <Input.Search
          allowClear
          placeholder={t('admin.audit.actionFilter')}
          aria-label={t('admin.audit.actionFilter')}
          value={draft.action ?? ''}
          onChange={(e) => setDraft((f) => ({ ...f, action: e.target.value }))}
          onSearch={(v) => setFilters((f) => ({ ...f, action: v.trim() || undefined }))}
          style={{ maxWidth: 260 }}
          data-testid="audit-action-filter"
        />
        <Input.Search
          allowClear
          placeholder={t('admin.audit.actorFilter')}
          aria-label={t('admin.audit.actorFilter')}
          value={draft.actorId ?? ''}
          onChange={(e) => setDraft((f) => ({ ...f, actorId: e.target.value }))}
          onSearch={(v) => setFilters((f) => ({ ...f, actorId: v.trim() || undefined }))}
          style={{ maxWidth: 300 }}
        />
      </Flex>
      {logs.error ? (
        <ErrorAlert error={logs.error} />
      ) : logs.isPending ? (
        <Skeleton active paragraph={{ rows: 8 }} />
      ) : (
        <>
          <Table<AuditLog>
            rowKey="id"
            size="small"
            columns={columns}
            dataSource={rows}
            pagination={false}
            loading={logs.isFetching && !logs.isFetchingNextPage}
            scroll={{ x: 1000 }}
            data-testid="audit-table"
            expandable={{
              // The full entry, pretty-printed; still plain text inside <pre>.
              expandedRowRender: (row) => (
                <pre
                  style={{
                    margin: 0,
                    whiteSpace: 'pre-wrap',
                    wordBreak: 'break-all',
                    fontSize: 12,
                    color: token.colorTextSecondary,
                  }}
                >
                  {JSON.stringify({ userAgent: row.userAgent, details: row.details }, null, 2)}
                </pre>
              ),
            }}
            locale={{ emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('admin.audit.empty')} /> }}
          />
          {logs.hasNextPage && (
            <Flex justify="center">
              <Button onClick={() => void logs.fetchNextPage()} loading={logs.isFetchingNextPage}>
                {t('lists.loadMore')}
              </Button>
            </Flex>
          )}
        </>
      )}
    </Flex>
  )
}
