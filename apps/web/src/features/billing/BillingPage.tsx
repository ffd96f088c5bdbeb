import type { LedgerEntry, LedgerReason } from '@qiao/shared'
import { Button, Card, Col, Empty, Flex, Row, Skeleton, Statistic, Table, Tag, Typography, theme } from 'antd'
import type { ColumnsType } from 'antd/es/table'
import { useTranslation } from 'react-i18next'
import { ErrorAlert } from '../../components/ErrorAlert'
import { formatDateTime } from '../../components/format'
import { usePageTitle } from '../../components/usePageTitle'
import { useBalance, useLedger } from './billing-api'
import { formatYuan } from './money'

const REASON_COLORS: Record<LedgerReason, string> = {
  signup: 'green',
  usage: 'default',
  admin_adjust: 'purple',
  topup: 'blue',
  redeem: 'cyan',
  refund: 'gold',
}

/** 账单: what the account holds, what is held for requests in flight, and every change to it. */
export function BillingPage() {
  const { t } = useTranslation()
  usePageTitle(t('billing.title'))
  return (
    <Flex vertical gap={16} style={{ maxWidth: 1100, margin: '0 auto' }} data-testid="billing-page">
      <Typography.Title level={3} style={{ margin: 0 }}>
        {t('billing.title')}
      </Typography.Title>
      <BalanceCard />
      <LedgerCard />
    </Flex>
  )
}

function BalanceCard() {
  const { t } = useTranslation()
  const { token } = theme.useToken()
  const balance = useBalance({ fresh: true })
  if (balance.error) return <ErrorAlert error={balance.error} />
  const data = balance.data
  const stat = (title: string, micro: number | undefined, testId: string, color?: string) => (
    <Col xs={24} sm={8}>
      <Card size="small">
        <Statistic
          title={title}
          loading={!data}
          value={micro === undefined ? '' : formatYuan(micro)}
          styles={{ content: { color, fontVariantNumeric: 'tabular-nums' } }}
          data-testid={testId}
        />
      </Card>
    </Col>
  )
  return (
    <Row gutter={[16, 16]}>
      {stat(t('billing.available'), data?.available, 'balance-available', token.colorLink)}
      {stat(t('billing.balance'), data?.balance, 'balance-total')}
      {stat(t('billing.reserved'), data?.reserved, 'balance-reserved')}
      <Col span={24}>
        <Typography.Text type="secondary">{t('billing.reservedHint')}</Typography.Text>
      </Col>
    </Row>
  )
}

function LedgerCard() {
  const { t, i18n } = useTranslation()
  const { token } = theme.useToken()
  const ledger = useLedger()
  const rows = ledger.data?.pages.flatMap((p) => p.items) ?? []

  const columns: ColumnsType<LedgerEntry> = [
    {
      title: t('billing.time'),
      dataIndex: 'createdAt',
      width: 180,
      render: (iso: string) => formatDateTime(iso, i18n.language),
    },
    {
      title: t('billing.reason'),
      dataIndex: 'reason',
      width: 120,
      render: (reason: LedgerReason) => <Tag color={REASON_COLORS[reason]}>{t(`billing.reasons.${reason}`)}</Tag>,
    },
    {
      title: t('billing.delta'),
      dataIndex: 'delta',
      align: 'right',
      width: 140,
      render: (delta: number) => (
        <span
          style={{
            color: delta < 0 ? token.colorError : token.colorSuccess,
            fontVariantNumeric: 'tabular-nums',
          }}
        >
          {formatYuan(delta, { sign: true, maxDecimals: 6 })}
        </span>
      ),
    },
    {
      title: t('billing.balanceAfter'),
      dataIndex: 'balanceAfter',
      align: 'right',
      width: 140,
      render: (micro: number) => (
        <span style={{ fontVariantNumeric: 'tabular-nums' }}>{formatYuan(micro, { maxDecimals: 6 })}</span>
      ),
    },
    {
      title: t('billing.note'),
      dataIndex: 'note',
      ellipsis: true,
      render: (note: string | null) => note ?? <Typography.Text type="secondary">—</Typography.Text>,
    },
  ]

  return (
    <Card title={t('billing.ledger')} styles={{ body: { padding: 0 } }}>
      {ledger.error ? (
        <div style={{ padding: 16 }}>
          <ErrorAlert error={ledger.error} />
        </div>
      ) : ledger.isPending ? (
        <div style={{ padding: 16 }}>
          <Skeleton active paragraph={{ rows: 5 }} />
        </div>
      ) : (
        <>
          <Table<LedgerEntry>
            rowKey="id"
            size="middle"
            columns={columns}
            dataSource={rows}
            pagination={false}
            scroll={{ x: 760 }}
            locale={{
              emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('billing.ledgerEmpty')} />,
            }}
            data-testid="ledger-table"
          />
          {ledger.hasNextPage && (
            <Flex justify="center" style={{ padding: 12 }}>
              <Button onClick={() => void ledger.fetchNextPage()} loading={ledger.isFetchingNextPage}>
                {t('lists.loadMore')}
              </Button>
            </Flex>
          )}
        </>
      )}
    </Card>
  )
}
