import { WalletOutlined } from '@ant-design/icons'
import { Button, Tooltip } from 'antd'
import { useTranslation } from 'react-i18next'
import { useNavigate } from 'react-router-dom'
import { useBalance } from './billing-api'
import { formatYuan } from './money'

/**
 * The header's available balance; a click opens the billing page. Hidden until it is known. Formatted
 * exactly like the billing page's "available" card (up to four decimals, never ¥0.00 for a non-zero
 * amount), so the two never disagree and a few fen left do not read as nothing.
 */
export function BalanceBadge({ compact = false }: { compact?: boolean }) {
  const { t } = useTranslation()
  const navigate = useNavigate()
  const { data } = useBalance()
  if (!data) return null
  const low = data.available <= 0
  const amount = formatYuan(data.available)
  const tip = `${t('billing.available')} ${amount} · ${t('billing.reserved')} ${formatYuan(data.reserved)}`
  return (
    <Tooltip title={tip} placement="bottom">
      <Button
        type="text"
        danger={low}
        icon={<WalletOutlined />}
        aria-label={`${t('billing.balanceBadge')}: ${amount}`}
        data-testid="balance-badge"
        onClick={() => void navigate('/billing')}
        style={{ paddingInline: compact ? 6 : 8, fontVariantNumeric: 'tabular-nums' }}
      >
        {amount}
      </Button>
    </Tooltip>
  )
}
