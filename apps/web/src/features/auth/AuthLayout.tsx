import { Card, Flex, Typography, theme } from 'antd'
import type { ReactNode } from 'react'
import { useTranslation } from 'react-i18next'
import { LogoMark } from '../../components/Logo'
import { LanguageSwitch, ThemeSwitch } from '../../components/PreferenceSwitches'

/** The frame of /login and /register: a centred card, with language and theme reachable before signing in. */
export function AuthLayout({ title, subtitle, children }: { title: string; subtitle: string; children: ReactNode }) {
  const { t } = useTranslation()
  const { token } = theme.useToken()
  return (
    <Flex vertical style={{ minHeight: '100dvh', background: token.colorBgLayout }}>
      <Flex justify="flex-end" gap={4} style={{ padding: '8px 12px' }}>
        <LanguageSwitch />
        <ThemeSwitch />
      </Flex>
      <Flex flex={1} vertical align="center" justify="center" style={{ padding: '8px 16px 48px' }}>
        <Flex vertical align="center" gap={8} style={{ marginBottom: 24 }}>
          <LogoMark size={48} />
          <Typography.Title level={3} style={{ margin: 0 }}>
            {t('app.name')}
          </Typography.Title>
          <Typography.Text type="secondary">{t('app.tagline')}</Typography.Text>
        </Flex>
        <Card
          style={{ width: '100%', maxWidth: 400, boxShadow: token.boxShadowTertiary }}
          styles={{ body: { padding: 28 } }}
        >
          <Typography.Title level={4} style={{ marginTop: 0, marginBottom: 4 }}>
            {title}
          </Typography.Title>
          <Typography.Paragraph type="secondary" style={{ marginBottom: 20 }}>
            {subtitle}
          </Typography.Paragraph>
          {children}
        </Card>
      </Flex>
    </Flex>
  )
}
