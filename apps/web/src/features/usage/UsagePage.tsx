import { DownloadOutlined } from '@ant-design/icons'
import {
  App,
  Button,
  Card,
  Col,
  DatePicker,
  Empty,
  Flex,
  Row,
  Segmented,
  Select,
  Skeleton,
  Statistic,
  Table,
  Tabs,
  Tag,
  Tooltip,
  Typography,
} from 'antd'
import type { UsageCall, UsageTotals } from '@qiao/shared'
import type { ColumnsType } from 'antd/es/table'
import dayjs from 'dayjs'
import { useMemo, useState } from 'react'
import { useTranslation } from 'react-i18next'
import { EChart } from '../../components/charts/EChart'
import { categoryOption, pieOption } from '../../components/charts/options'
import { ErrorAlert } from '../../components/ErrorAlert'
import { errorText } from '../../components/error-text'
import { formatDateTime } from '../../components/format'
import { usePageTitle } from '../../components/usePageTitle'
import { formatYuan } from '../billing/money'
import { modelLabel } from '../chat/chat-format'
import { rangeFilters, useNumberFormat, type DayRange } from './format'
import {
  downloadUsageCsv,
  useModels,
  useUsageCalls,
  useUsageStats,
  type CallSource,
  type CallStatus,
  type UsageFilters,
} from './usage-api'

type Range = DayRange
const STATUS_COLORS: Record<CallStatus, string> = { ok: 'success', error: 'error', interrupted: 'warning' }

/** 用量: every metered call with filters and a CSV export, and charts of the same data. */
export function UsagePage() {
  const { t } = useTranslation()
  usePageTitle(t('usage.title'))
  const [range, setRange] = useState<Range>(() => [dayjs().subtract(29, 'day'), dayjs()])
  const [model, setModel] = useState<string | undefined>()
  const [status, setStatus] = useState<CallStatus | undefined>()
  const [source, setSource] = useState<CallSource | undefined>()
  const [tab, setTab] = useState('calls')

  const days = useMemo(() => rangeFilters(range), [range])
  const filters: UsageFilters = useMemo(
    () => ({ ...days, model, status, source }),
    [days, model, status, source],
  )
  // The statistics take the same filters as the list, so the totals are exactly the listed calls'.
  const stats = useUsageStats(filters, 'model')
  const totals = stats.data?.totals

  return (
    <Flex vertical gap={16} style={{ maxWidth: 1200, margin: '0 auto' }} data-testid="usage-page">
      <Typography.Title level={3} style={{ margin: 0 }}>
        {t('usage.title')}
      </Typography.Title>
      <FiltersBar
        range={range}
        onRange={setRange}
        model={model}
        onModel={setModel}
        status={status}
        onStatus={setStatus}
        source={source}
        onSource={setSource}
        filters={filters}
      />
      {stats.error ? <ErrorAlert error={stats.error} /> : <TotalsCards totals={totals} />}
      <Tabs
        activeKey={tab}
        onChange={setTab}
        destroyOnHidden
        items={[
          {
            key: 'calls',
            label: t('usage.callsTab'),
            children: <CallsTable filters={filters} totals={totals} />,
          },
          { key: 'charts', label: t('usage.chartsTab'), children: <UsageCharts filters={filters} /> },
        ]}
      />
    </Flex>
  )
}

interface FiltersBarProps {
  range: Range
  onRange: (r: Range) => void
  model?: string
  onModel: (m?: string) => void
  status?: CallStatus
  onStatus: (s?: CallStatus) => void
  source?: CallSource
  onSource: (s?: CallSource) => void
  filters: UsageFilters
}

function FiltersBar(props: FiltersBarProps) {
  const { t } = useTranslation()
  const { message } = App.useApp()
  const models = useModels()
  const [downloading, setDownloading] = useState(false)

  const download = async () => {
    setDownloading(true)
    try {
      await downloadUsageCsv(props.filters)
    } catch (err) {
      void message.error(errorText(t, err))
    } finally {
      setDownloading(false)
    }
  }

  const today = dayjs()
  return (
    <Card size="small">
      <Flex wrap gap={12} align="center">
        <DatePicker.RangePicker
          value={props.range}
          onChange={(value) => {
            if (value?.[0] && value[1]) props.onRange([value[0], value[1]])
          }}
          allowClear={false}
          disabledDate={(d) => d.isAfter(today, 'day')}
          presets={[
            { label: t('usage.today'), value: [today, today] },
            { label: t('usage.last7'), value: [today.subtract(6, 'day'), today] },
            { label: t('usage.last30'), value: [today.subtract(29, 'day'), today] },
            { label: t('usage.last90'), value: [today.subtract(89, 'day'), today] },
          ]}
          aria-label={t('usage.dateRange')}
          style={{ flex: '1 1 240px', maxWidth: 320 }}
        />
        <Select
          allowClear
          showSearch={{ optionFilterProp: 'label' }}
          placeholder={t('usage.allModels')}
          value={props.model}
          onChange={(v?: string) => props.onModel(v)}
          loading={models.isPending}
          options={(models.data ?? []).map((m) => ({ value: m.id, label: modelLabel(m, t) }))}
          style={{ flex: '1 1 180px', maxWidth: 260 }}
          aria-label={t('usage.model')}
          data-testid="filter-model"
        />
        <Select
          allowClear
          placeholder={t('usage.allStatuses')}
          value={props.status}
          onChange={(v?: CallStatus) => props.onStatus(v)}
          options={(['ok', 'error', 'interrupted'] as const).map((s) => ({ value: s, label: t(`usage.status.${s}`) }))}
          style={{ flex: '1 1 120px', maxWidth: 160 }}
          aria-label={t('usage.statusLabel')}
          data-testid="filter-status"
        />
        <Select
          allowClear
          placeholder={t('usage.allSources')}
          value={props.source}
          onChange={(v?: CallSource) => props.onSource(v)}
          options={(['web', 'api'] as const).map((s) => ({ value: s, label: t(`usage.source.${s}`) }))}
          style={{ flex: '1 1 120px', maxWidth: 160 }}
          aria-label={t('usage.sourceLabel')}
          data-testid="filter-source"
        />
        <Button
          icon={<DownloadOutlined />}
          onClick={() => void download()}
          loading={downloading}
          style={{ marginInlineStart: 'auto' }}
          data-testid="download-csv"
        >
          {t('usage.downloadCsv')}
        </Button>
      </Flex>
    </Card>
  )
}

function TotalsCards({ totals }: { totals: UsageTotals | undefined }) {
  const { t } = useTranslation()
  const fmt = useNumberFormat()
  const items: Array<[string, string | undefined, string]> = [
    [t('usage.totalCalls'), totals && fmt(totals.calls), 'total-calls'],
    [t('usage.totalInput'), totals && fmt(totals.promptTokens), 'total-input'],
    [t('usage.totalOutput'), totals && fmt(totals.completionTokens), 'total-output'],
    // Six decimals, like the table's cost column and summary row below, so the total matches them.
    [t('usage.totalCost'), totals && formatYuan(totals.cost, { maxDecimals: 6 }), 'total-cost'],
  ]
  return (
    <Row gutter={[12, 12]}>
      {items.map(([title, value, testId]) => (
        <Col key={testId} xs={12} md={6}>
          <Card size="small">
            <Statistic
              title={title}
              value={value ?? ''}
              loading={value === undefined}
              styles={{ content: { fontVariantNumeric: 'tabular-nums' } }}
              data-testid={testId}
            />
          </Card>
        </Col>
      ))}
    </Row>
  )
}

function CallsTable({ filters, totals }: { filters: UsageFilters; totals: UsageTotals | undefined }) {
  const { t, i18n } = useTranslation()
  const fmt = useNumberFormat()
  const models = useModels()
  const calls = useUsageCalls(filters)
  const names = useMemo(() => new Map((models.data ?? []).map((m) => [m.id, modelLabel(m, t)])), [models.data, t])
  const rows = calls.data?.pages.flatMap((p) => p.items) ?? []
  const ms = (v: number | null) => (v === null ? '—' : t('usage.ms', { value: fmt(v) }))

  const columns: ColumnsType<UsageCall> = [
    {
      title: t('usage.time'),
      dataIndex: 'createdAt',
      width: 165,
      fixed: 'left',
      render: (iso: string) => formatDateTime(iso, i18n.language),
    },
    {
      title: t('usage.model'),
      dataIndex: 'model',
      width: 200,
      ellipsis: true,
      render: (id: string) => <Tooltip title={id}>{names.get(id) ?? id}</Tooltip>,
    },
    {
      title: t('usage.sourceLabel'),
      dataIndex: 'source',
      width: 80,
      render: (s: CallSource) => <Tag color={s === 'api' ? 'geekblue' : 'default'}>{t(`usage.source.${s}`)}</Tag>,
    },
    {
      title: t('usage.statusLabel'),
      dataIndex: 'status',
      width: 90,
      render: (s: CallStatus, row) => (
        <Tooltip title={row.errorCode ?? undefined}>
          <Tag color={STATUS_COLORS[s]}>{t(`usage.status.${s}`)}</Tag>
        </Tooltip>
      ),
    },
    {
      title: t('usage.tokensIn'),
      dataIndex: 'promptTokens',
      align: 'right',
      width: 90,
      render: (n: number, row) => (
        <Tooltip title={row.usageEstimated ? t('usage.estimated') : undefined}>
          {fmt(n)}
          {row.usageEstimated ? '*' : ''}
        </Tooltip>
      ),
    },
    { title: t('usage.tokensOut'), dataIndex: 'completionTokens', align: 'right', width: 90, render: fmt },
    {
      title: t('usage.cost'),
      dataIndex: 'cost',
      align: 'right',
      width: 115,
      render: (micro: number) => formatYuan(micro, { maxDecimals: 6 }),
    },
    { title: t('usage.latency'), dataIndex: 'latencyMs', align: 'right', width: 100, render: ms },
    { title: t('usage.ttft'), dataIndex: 'ttftMs', align: 'right', width: 100, render: ms },
  ]

  if (calls.error) return <ErrorAlert error={calls.error} />
  if (calls.isPending) return <Skeleton active paragraph={{ rows: 6 }} />
  return (
    <Flex vertical gap={12}>
      <Table<UsageCall>
        rowKey="id"
        size="middle"
        columns={columns}
        dataSource={rows}
        pagination={false}
        loading={calls.isFetching && !calls.isFetchingNextPage}
        scroll={{ x: 'max-content' }}
        data-testid="calls-table"
        locale={{ emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('usage.empty')} /> }}
        summary={() =>
          totals && rows.length > 0 ? (
            <Table.Summary fixed>
              <Table.Summary.Row>
                <Table.Summary.Cell index={0} colSpan={4}>
                  <Typography.Text strong data-testid="summary-calls">
                    {t('usage.summary', { count: totals.calls, shown: rows.length })}
                  </Typography.Text>
                </Table.Summary.Cell>
                <Table.Summary.Cell index={4} align="right">
                  <Typography.Text strong>{fmt(totals.promptTokens)}</Typography.Text>
                </Table.Summary.Cell>
                <Table.Summary.Cell index={5} align="right">
                  <Typography.Text strong>{fmt(totals.completionTokens)}</Typography.Text>
                </Table.Summary.Cell>
                <Table.Summary.Cell index={6} align="right">
                  <Typography.Text strong>{formatYuan(totals.cost, { maxDecimals: 6 })}</Typography.Text>
                </Table.Summary.Cell>
                <Table.Summary.Cell index={7} colSpan={2} />
              </Table.Summary.Row>
            </Table.Summary>
          ) : null
        }
      />
      {calls.hasNextPage && (
        <Flex justify="center">
          <Button onClick={() => void calls.fetchNextPage()} loading={calls.isFetchingNextPage} data-testid="load-more">
            {t('lists.loadMore')}
          </Button>
        </Flex>
      )}
    </Flex>
  )
}

type Metric = 'calls' | 'tokens' | 'cost'

function UsageCharts({ filters }: { filters: UsageFilters }) {
  const { t } = useTranslation()
  const fmt = useNumberFormat()
  const [metric, setMetric] = useState<Metric>('calls')
  const byDay = useUsageStats(filters, 'day')
  const byModel = useUsageStats(filters, 'model')
  const models = useModels()

  const dayOption = useMemo(() => {
    // The server sends every day of the range, zeros included.
    const points = byDay.data?.series ?? []
    const categories = points.map((p) => p.key)
    const pick = (key: keyof UsageTotals) => points.map((p) => p[key])
    if (metric === 'cost') {
      return categoryOption({
        categories,
        series: [{ name: t('usage.cost'), data: pick('cost'), kind: 'line' }],
        format: (v) => formatYuan(v, { maxDecimals: 6 }),
      })
    }
    if (metric === 'tokens') {
      return categoryOption({
        categories,
        series: [
          { name: t('usage.tokensIn'), data: pick('promptTokens'), kind: 'bar', stack: 'tokens' },
          { name: t('usage.tokensOut'), data: pick('completionTokens'), kind: 'bar', stack: 'tokens' },
        ],
        format: fmt,
      })
    }
    return categoryOption({ categories, series: [{ name: t('usage.totalCalls'), data: pick('calls'), kind: 'bar' }] })
  }, [byDay.data, metric, t, fmt])

  const modelOption = useMemo(() => {
    const names = new Map((models.data ?? []).map((m) => [m.id, modelLabel(m, t)]))
    const items = (byModel.data?.series ?? []).map((p) => ({
      name: names.get(p.key) ?? p.key,
      value: metric === 'cost' ? p.cost : metric === 'tokens' ? p.promptTokens + p.completionTokens : p.calls,
    }))
    return pieOption({ items, format: metric === 'cost' ? (v) => formatYuan(v) : fmt, otherLabel: t('usage.other') })
  }, [byModel.data, models.data, metric, t, fmt])

  const error = byDay.error ?? byModel.error
  if (error) return <ErrorAlert error={error} />
  if (byDay.isPending || byModel.isPending) return <Skeleton active paragraph={{ rows: 8 }} />
  const empty = (byDay.data?.totals.calls ?? 0) === 0

  return (
    <Flex vertical gap={16}>
      <Segmented<Metric>
        value={metric}
        onChange={setMetric}
        options={[
          { value: 'calls', label: t('usage.metricCalls') },
          { value: 'tokens', label: t('usage.metricTokens') },
          { value: 'cost', label: t('usage.metricCost') },
        ]}
        style={{ alignSelf: 'flex-start' }}
      />
      {empty ? (
        <Card>
          <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('usage.empty')} />
        </Card>
      ) : (
        <Row gutter={[16, 16]}>
          <Col xs={24} lg={15}>
            <Card size="small" title={t('usage.perDay')}>
              <EChart option={dayOption} label={t('usage.perDay')} testId="chart-daily" height={320} />
            </Card>
          </Col>
          <Col xs={24} lg={9}>
            <Card size="small" title={t('usage.byModel')}>
              <EChart option={modelOption} label={t('usage.byModel')} testId="chart-models" height={320} />
            </Card>
          </Col>
        </Row>
      )}
    </Flex>
  )
}
