import { SettingOutlined } from '@ant-design/icons'
import { Welcome } from '@ant-design/x'
import { Button, Card, Empty, Flex, Typography } from 'antd'
import { useTranslation } from 'react-i18next'
import { useNavigate } from 'react-router-dom'
import { useSession } from '../../api/session'
import { LogoMark } from '../../components/Logo'
import { usePageTitle } from '../../components/usePageTitle'

/**
 * The home page until chat lands. It says plainly that chat is not here yet rather than
 * pretending: no fake input box, no fake models.
 */
export function ChatHomePage() {
  const { t } = useTranslation()
  const navigate = useNavigate()
  const user = useSession((s) => s.user)
  usePageTitle(t('nav.chat'))
  const name = user?.displayName || user?.username || user?.email || ''

  return (
    <Flex vertical gap={24} style={{ maxWidth: 760, margin: '0 auto', paddingTop: 8 }} data-testid="chat-home">
      <Welcome
        variant="borderless"
        icon={<LogoMark size={48} />}
        title={
          <Typography.Title level={3} style={{ margin: 0 }} data-testid="greeting">
            {t('chat.greeting', { name })}
          </Typography.Title>
        }
        description={t('app.tagline')}
      />
      <Card>
        <Empty
          image={Empty.PRESENTED_IMAGE_SIMPLE}
          description={
            <Flex vertical gap={4} align="center">
              <Typography.Text strong style={{ fontSize: 16 }}>
                {t('chat.emptyTitle')}
              </Typography.Text>
              <Typography.Text type="secondary" style={{ maxWidth: 460 }}>
                {t('chat.emptyDescription')}
              </Typography.Text>
              <Typography.Text type="secondary">{t('chat.emptyHint')}</Typography.Text>
            </Flex>
          }
        >
          <Button type="primary" icon={<SettingOutlined />} onClick={() => void navigate('/settings')}>
            {t('chat.toSettings')}
          </Button>
        </Empty>
      </Card>
    </Flex>
  )
}
