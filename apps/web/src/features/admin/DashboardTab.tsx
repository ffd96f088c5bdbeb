import { Card, Col, DatePicker, Empty, Flex, Row, Segmented, Skeleton, Statistic, Table, Tag, Typography } from 'antd'
import type { AdminStatsPoint } from '@qiao/shared'
import type { ColumnsType } from 'antd/es/table'
import dayjs from 'dayjs'
import { useMemo, useState } from 'react'
import { useTranslation } from 'react-i18next'
import { EChart } from '../../components/charts/EChart'
import { categoryOption, pieOption } from '../../components/charts/options'
import { ErrorAlert } from '../../components/ErrorAlert'
import { formatYuan } from '../billing/money'
import { modelLabel } from '../chat/chat-format'
import { rangeFilters, useNumberFormat, type DayRange } from '../usage/format'
import { useAdminModels, useAdminStats, useChannels } from './admin-api'

type Metric = 'calls' | 'cost'

/** Platform dashboard: cost and calls by day, model, channel and user; error rate and latency per channel. */
export function DashboardTab() {
  const { t } = useTranslation()
  const fmt = useNumberFormat()
  const [range, setRange] = useState<DayRange>(() => [dayjs().subtract(29, 'day'), dayjs()])
  const [metric, setMetric] = useState<Metric>('cost')
  const filters = useMemo(() => rangeFilters(range), [range])
  const byDay = useAdminStats(filters, 'day')
  const byModel = useAdminStats(filters, 'model')
  const byChannel = useAdminStats(filters, 'channel')
  const byUser = useAdminStats(filters, 'user')
  const models = useAdminModels()
  const channels = useChannels()

  const { valueOf, format } = useMemo(
    () => ({
      valueOf: (p: AdminStatsPoint) => (metric === 'cost' ? p.cost : p.calls),
      format: metric === 'cost' ? (v: number) => formatYuan(v, { maxDecimals: 6 }) : fmt,
    }),
    [metric, fmt],
  )
  const metricName = metric === 'cost' ? t('admin.dashboard.cost') : t('admin.dashboard.calls')

  const dayOption = useMemo(() => {
    // The server sends every day of the range, zeros included.
    const points = byDay.data?.series ?? []
    return categoryOption({
      categories: points.map((p) => p.key),
      series: [{ name: metricName, kind: metric === 'cost' ? 'line' : 'bar', data: points.map(valueOf) }],
      format,
    })
  }, [byDay.data, metric, metricName, valueOf, format])

  const modelOption = useMemo(() => {
    const names = new Map((models.data ?? []).map((m) => [m.id, modelLabel(m, t)]))
    return pieOption({
      items: (byModel.data?.series ?? []).map((p) => ({ name: names.get(p.key) ?? p.key, value: valueOf(p) })),
      format,
      otherLabel: t('usage.other'),
    })
  }, [byModel.data, models.data, t, valueOf, format])

  const userOption = useMemo(() => {
    const top = [...(byUser.data?.series ?? [])].sort((a, b) => valueOf(b) - valueOf(a)).slice(0, 10)
    return categoryOption({
      categories: top.map((p) => p.label ?? p.key),
      series: [{ name: metricName, kind: 'bar', data: top.map(valueOf) }],
      format,
      horizontal: true,
    })
  }, [byUser.data, metricName, valueOf, format])

  const channelNames = useMemo(() => new Map((channels.data ?? []).map((c) => [c.id, c])), [channels.data])
  const channelColumns: ColumnsType<AdminStatsPoint> = [
    {
      title: t('admin.dashboard.channel'),
      key: 'channel',
      render: (_, p) => {
        const channel = channelNames.get(p.key)
        return (
          <Flex gap={4} align="center" wrap>
            <span>{p.key === 'none' ? t('admin.dashboard.noChannel') : (p.label ?? channel?.name ?? p.key)}</span>
            {channel?.emulated && <Tag color="orange">{t('admin.providers.emulated')}</Tag>}
          </Flex>
        )
      },
    },
    { title: t('admin.dashboard.calls'), key: 'calls', align: 'right', render: (_, p) => fmt(p.calls) },
    {
      title: t('admin.dashboard.errorRate'),
      key: 'errorRate',
      align: 'right',
      render: (_, p) => {
        const rate = p.errorRate ?? 0
        return (
          <Typography.Text type={rate >= 0.05 ? 'danger' : undefined}>{`${(rate * 100).toFixed(1)}%`}</Typography.Text>
        )
      },
    },
    {
      title: t('admin.dashboard.p50'),
      key: 'p50',
      align: 'right',
      render: (_, p) => {
        const v = p.latencyP50Ms ?? null
        return v === null ? '—' : t('usage.ms', { value: fmt(Math.round(v)) })
      },
    },
    {
      title: t('admin.dashboard.p95'),
      key: 'p95',
      align: 'right',
      render: (_, p) => {
        const v = p.latencyP95Ms ?? null
        return v === null ? '—' : t('usage.ms', { value: fmt(Math.round(v)) })
      },
    },
    { title: t('admin.dashboard.cost'), key: 'cost', align: 'right', render: (_, p) => formatYuan(p.cost) },
  ]

  const totals = byDay.data?.totals
  const error = byDay.error ?? byModel.error ?? byChannel.error ?? byUser.error
  const empty = totals !== undefined && totals.calls === 0

  return (
    <Flex vertical gap={16} data-testid="admin-dashboard">
      <Flex wrap gap={12} align="center" justify="space-between">
        <DatePicker.RangePicker
          value={range}
          onChange={(v) => {
            if (v?.[0] && v[1]) setRange([v[0], v[1]])
          }}
          allowClear={false}
          disabledDate={(d) => d.isAfter(dayjs(), 'day')}
          aria-label={t('usage.dateRange')}
        />
        <Segmented<Metric>
          value={metric}
          onChange={setMetric}
          options={[
            { value: 'cost', label: t('admin.dashboard.cost') },
            { value: 'calls', label: t('admin.dashboard.calls') },
          ]}
        />
      </Flex>
      {error ? <ErrorAlert error={error} /> : null}
      <Row gutter={[12, 12]}>
        {(
          [
            [t('admin.dashboard.calls'), totals && fmt(totals.calls)],
            [t('admin.dashboard.cost'), totals && formatYuan(totals.cost)],
            [t('usage.totalInput'), totals && fmt(totals.promptTokens)],
            [t('usage.totalOutput'), totals && fmt(totals.completionTokens)],
          ] as const
        ).map(([title, value]) => (
          <Col key={title} xs={12} md={6}>
            <Card size="small">
              <Statistic title={title} value={value ?? ''} loading={value === undefined} />
            </Card>
          </Col>
        ))}
      </Row>
      {byDay.isPending ? (
        <Skeleton active paragraph={{ rows: 8 }} />
      ) : empty ? (
        <Card>
          <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('admin.dashboard.empty')} />
        </Card>
      ) : (
        <>
          <Row gutter={[16, 16]}>
            <Col xs={24} lg={15}>
              <Card size="small" title={t('admin.dashboard.perDay', { metric: metricName })}>
                <EChart
                  option={dayOption}
                  label={t('admin.dashboard.perDay', { metric: metricName })}
                  testId="admin-chart-daily"
                />
              </Card>
            </Col>
            <Col xs={24} lg={9}>
              <Card size="small" title={t('admin.dashboard.byModel', { metric: metricName })}>
                <EChart
                  option={modelOption}
                  label={t('admin.dashboard.byModel', { metric: metricName })}
                  testId="admin-chart-models"
                />
              </Card>
            </Col>
          </Row>
          <Row gutter={[16, 16]}>
            <Col xs={24} lg={12}>
              <Card size="small" title={t('admin.dashboard.byUser', { metric: metricName })}>
                <EChart
                  option={userOption}
                  label={t('admin.dashboard.byUser', { metric: metricName })}
                  testId="admin-chart-users"
                />
              </Card>
            </Col>
            <Col xs={24} lg={12}>
              <Card size="small" title={t('admin.dashboard.byChannel')} styles={{ body: { padding: 0 } }}>
                <Table<AdminStatsPoint>
                  rowKey="key"
                  size="small"
                  columns={channelColumns}
                  dataSource={byChannel.data?.series ?? []}
                  loading={byChannel.isPending}
                  pagination={false}
                  scroll={{ x: 560 }}
                  data-testid="channel-stats"
                />
              </Card>
            </Col>
          </Row>
        </>
      )}
    </Flex>
  )
}
