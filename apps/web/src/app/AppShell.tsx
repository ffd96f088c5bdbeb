import {
  ApiOutlined,
  BarChartOutlined,
  CrownOutlined,
  LogoutOutlined,
  MenuFoldOutlined,
  MenuOutlined,
  MenuUnfoldOutlined,
  MessageOutlined,
  SettingOutlined,
  TranslationOutlined,
  WalletOutlined,
} from '@ant-design/icons'
import {
  App,
  Avatar,
  Button,
  Drawer,
  Dropdown,
  Flex,
  Layout,
  Menu,
  Skeleton,
  Typography,
  theme,
  type MenuProps,
} from 'antd'
import { Suspense, useState } from 'react'
import { useTranslation } from 'react-i18next'
import { Outlet, useLocation, useNavigate } from 'react-router-dom'
import { logout, useSession } from '../api/session'
import { EmailText } from '../components/EmailText'
import { Logo } from '../components/Logo'
import { LanguageSwitch, ThemeSwitch } from '../components/PreferenceSwitches'
import { NARROW_QUERY, PHONE_QUERY, useMediaQuery } from '../components/useMediaQuery'
import { BalanceBadge } from '../features/billing/BalanceBadge'
import { setLanguage } from './preferences'

const SIDER_WIDTH = 220
const HEADER_HEIGHT = 56

/** The signed-in frame: navigation on the left (a drawer on phones), account controls on top. */
export function AppShell() {
  const { t } = useTranslation()
  const { token } = theme.useToken()
  const isPhone = useMediaQuery(PHONE_QUERY)
  const isNarrow = useMediaQuery(NARROW_QUERY)
  // What the user chose with the toggle wins; until then the width decides.
  const [collapsedByUser, setCollapsed] = useState<boolean | undefined>(undefined)
  const collapsed = collapsedByUser ?? isNarrow
  const [drawerOpen, setDrawerOpen] = useState(false)
  const user = useSession((s) => s.user)
  const location = useLocation()
  const navigate = useNavigate()

  const items: MenuProps['items'] = [
    { key: '/', icon: <MessageOutlined />, label: t('nav.chat') },
    { key: '/usage', icon: <BarChartOutlined />, label: t('nav.usage') },
    { key: '/billing', icon: <WalletOutlined />, label: t('nav.billing') },
    { key: '/playground', icon: <ApiOutlined />, label: t('nav.playground') },
    { key: '/settings', icon: <SettingOutlined />, label: t('nav.settings') },
    ...(user?.role === 'admin' ? [{ key: '/admin', icon: <CrownOutlined />, label: t('nav.admin') }] : []),
  ]
  const section = location.pathname.split('/')[1] ?? ''
  // A conversation (/c/:id) belongs to the chat entry.
  const selected = section === 'c' ? '/' : '/' + section
  // The chat page lays out its own columns and scrolls inside them: no padding, exactly one screen tall.
  const fullBleed = selected === '/'

  const nav = (
    <nav aria-label={t('nav.main')}>
      <Menu
        mode="inline"
        items={items}
        selectedKeys={[selected]}
        // Transparent so the menu takes the sider's or the drawer's surface colour.
        style={{ borderInlineEnd: 'none', background: 'transparent' }}
        onClick={({ key }) => {
          setDrawerOpen(false)
          void navigate(key)
        }}
      />
    </nav>
  )

  return (
    <Layout style={{ minHeight: '100dvh' }}>
      {isPhone ? (
        <Drawer
          placement="left"
          open={drawerOpen}
          onClose={() => setDrawerOpen(false)}
          size={SIDER_WIDTH + 40}
          title={<Logo />}
          styles={{ body: { padding: 8 } }}
        >
          {nav}
        </Drawer>
      ) : (
        <Layout.Sider
          width={SIDER_WIDTH}
          collapsible
          collapsed={collapsed}
          trigger={null}
          theme="light"
          style={{
            background: token.colorBgContainer,
            borderInlineEnd: `1px solid ${token.colorBorderSecondary}`,
            position: 'sticky',
            top: 0,
            height: '100dvh',
          }}
        >
          <Flex align="center" style={{ height: HEADER_HEIGHT, paddingInline: collapsed ? 24 : 20 }}>
            <Logo compact={collapsed} />
          </Flex>
          <div style={{ padding: 8 }}>{nav}</div>
        </Layout.Sider>
      )}
      <Layout>
        <Layout.Header
          style={{
            position: 'sticky',
            top: 0,
            zIndex: 10,
            height: HEADER_HEIGHT,
            lineHeight: `${HEADER_HEIGHT}px`,
            paddingInline: isPhone ? 8 : 16,
            background: token.colorBgContainer,
            borderBottom: `1px solid ${token.colorBorderSecondary}`,
          }}
        >
          <Flex align="center" justify="space-between" style={{ height: '100%' }} gap={8}>
            <Flex align="center" gap={8} style={{ minWidth: 0 }}>
              {isPhone ? (
                <>
                  <Button
                    type="text"
                    icon={<MenuOutlined />}
                    aria-label={t('nav.openMenu')}
                    onClick={() => setDrawerOpen(true)}
                  />
                  <Logo size={24} />
                </>
              ) : (
                <Button
                  type="text"
                  icon={collapsed ? <MenuUnfoldOutlined /> : <MenuFoldOutlined />}
                  aria-label={collapsed ? t('nav.expand') : t('nav.collapse')}
                  onClick={() => setCollapsed(!collapsed)}
                />
              )}
            </Flex>
            <Flex align="center" gap={isPhone ? 0 : 4}>
              <BalanceBadge compact={isPhone} />
              {!isPhone && <LanguageSwitch />}
              <ThemeSwitch />
              <UserMenu compact={isPhone} />
            </Flex>
          </Flex>
        </Layout.Header>
        <Layout.Content
          style={
            fullBleed
              ? { padding: 0, height: `calc(100dvh - ${HEADER_HEIGHT}px)`, overflow: 'hidden' }
              : { padding: isPhone ? 12 : 24 }
          }
        >
          <Suspense fallback={<Skeleton active paragraph={{ rows: 6 }} />}>
            <Outlet />
          </Suspense>
        </Layout.Content>
      </Layout>
    </Layout>
  )
}

/** Who is signed in, the way to settings, and sign-out. On phones it also holds the language switch. */
function UserMenu({ compact }: { compact: boolean }) {
  const { t, i18n } = useTranslation()
  const { message } = App.useApp()
  const { token } = theme.useToken()
  const user = useSession((s) => s.user)
  const navigate = useNavigate()
  if (!user) return null
  const name = user.displayName || user.username || user.email
  const initial = [...name][0]?.toUpperCase() ?? '?'

  const signOut = async () => {
    await logout()
    void message.success(t('header.signedOut'))
    void navigate('/login', { replace: true })
  }

  const items: MenuProps['items'] = [
    {
      key: 'who',
      disabled: true,
      style: { cursor: 'default' },
      label: (
        // The address wraps after its "@" rather than being cut: this is where people check which account they are in.
        <Flex vertical style={{ maxWidth: 240 }}>
          <Typography.Text strong ellipsis title={name}>
            {name}
          </Typography.Text>
          <EmailText email={user.email} secondary style={{ fontSize: 12, lineHeight: 1.4 }} />
        </Flex>
      ),
    },
    { type: 'divider' },
    { key: 'settings', icon: <SettingOutlined />, label: t('nav.settings') },
    ...(compact
      ? [
          {
            key: 'language',
            label: i18n.language === 'en' ? '简体中文' : 'English',
            icon: <TranslationOutlined />,
          },
        ]
      : []),
    { type: 'divider' },
    { key: 'logout', icon: <LogoutOutlined />, danger: true, label: t('header.signOut') },
  ]

  return (
    <Dropdown
      trigger={['click']}
      placement="bottomRight"
      menu={{
        items,
        onClick: ({ key }) => {
          if (key === 'settings') void navigate('/settings')
          else if (key === 'logout') void signOut()
          else if (key === 'language') void setLanguage(i18n.language === 'en' ? 'zh-CN' : 'en')
        },
      }}
    >
      <Button
        type="text"
        aria-label={t('header.userMenu')}
        data-testid="user-menu"
        style={{ paddingInline: 6, height: 40 }}
      >
        <Flex align="center" gap={8}>
          <Avatar size={28} style={{ backgroundColor: token.colorPrimary, flex: 'none' }}>
            {initial}
          </Avatar>
          {!compact && (
            <Typography.Text ellipsis title={name} style={{ maxWidth: 160 }}>
              {name}
            </Typography.Text>
          )}
        </Flex>
      </Button>
    </Dropdown>
  )
}
