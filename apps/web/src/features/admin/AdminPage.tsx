import { ToolOutlined } from '@ant-design/icons'
import { Card, Result, theme } from 'antd'
import { useTranslation } from 'react-i18next'
import { usePageTitle } from '../../components/usePageTitle'

/** Placeholder until the admin console is built; only admins reach it (see router.tsx). */
export function AdminPage() {
  const { t } = useTranslation()
  const { token } = theme.useToken()
  usePageTitle(t('admin.title'))
  return (
    <Card style={{ maxWidth: 760, margin: '0 auto' }}>
      <Result
        icon={<ToolOutlined style={{ color: token.colorPrimary }} />}
        title={t('admin.comingSoonTitle')}
        subTitle={t('admin.comingSoonDescription')}
      />
    </Card>
  )
}
