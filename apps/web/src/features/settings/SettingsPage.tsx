import { Card, Tabs, Typography } from 'antd'
import { useTranslation } from 'react-i18next'
import { useSearchParams } from 'react-router-dom'
import { PHONE_QUERY, useMediaQuery } from '../../components/useMediaQuery'
import { usePageTitle } from '../../components/usePageTitle'
import { ApiKeysPanel } from '../apikeys/ApiKeysPanel'
import { PasswordTab } from './PasswordTab'
import { ProfileTab } from './ProfileTab'
import { SessionsTab } from './SessionsTab'

const TABS = ['profile', 'password', 'sessions', 'keys'] as const
type TabKey = (typeof TABS)[number]

/**
 * /settings?tab=… so a tab can be linked to and survives a reload. On a phone the card's padding and
 * the space between tabs shrink so all four tabs fit side by side (down to 320 px wide, in Chinese and
 * English) instead of the last ones hiding behind a fade or the overflow menu.
 */
export function SettingsPage() {
  const { t } = useTranslation()
  const isPhone = useMediaQuery(PHONE_QUERY)
  const [params, setParams] = useSearchParams()
  usePageTitle(t('settings.title'))
  const requested = params.get('tab')
  const active: TabKey = TABS.includes(requested as TabKey) ? (requested as TabKey) : 'profile'

  return (
    <div style={{ maxWidth: 760, margin: '0 auto' }}>
      <Typography.Title level={3} style={{ marginTop: 0 }}>
        {t('settings.title')}
      </Typography.Title>
      <Card styles={{ body: isPhone ? { padding: '4px 12px 12px' } : { paddingTop: 8 } }}>
        <Tabs
          activeKey={active}
          tabBarGutter={isPhone ? 16 : undefined}
          onChange={(key) => setParams({ tab: key }, { replace: true })}
          destroyOnHidden
          items={[
            { key: 'profile', label: t('settings.profileTab'), children: <ProfileTab /> },
            { key: 'password', label: t('settings.passwordTab'), children: <PasswordTab /> },
            { key: 'sessions', label: t('settings.sessionsTab'), children: <SessionsTab /> },
            { key: 'keys', label: t('settings.keysTab'), children: <ApiKeysPanel /> },
          ]}
        />
      </Card>
    </div>
  )
}
