import { Flex, Tabs, Typography } from 'antd'
import type { ReactNode } from 'react'
import { useTranslation } from 'react-i18next'
import { useNavigate, useParams } from 'react-router-dom'
import { NotFoundPage } from '../../app/router'
import { usePageTitle } from '../../components/usePageTitle'
import { AuditTab } from './AuditTab'
import { DashboardTab } from './DashboardTab'
import { ModelsTab } from './ModelsTab'
import { ProvidersTab } from './ProvidersTab'
import { SettingsTab } from './SettingsTab'
import { UsersTab } from './UsersTab'

const TABS = ['dashboard', 'users', 'providers', 'models', 'settings', 'audit'] as const
type AdminTab = (typeof TABS)[number]
const isTab = (value: string | undefined): value is AdminTab => (TABS as readonly string[]).includes(value ?? '')

/**
 * 管理后台. Each section has its own address (/admin/users, …) so a reload or a shared link
 * lands on it; only admins get here (router.tsx), and the server checks again on every call.
 */
export function AdminPage() {
  const { t } = useTranslation()
  const navigate = useNavigate()
  const { tab = 'dashboard' } = useParams()
  usePageTitle(isTab(tab) ? `${t(`admin.tabs.${tab}`)} · ${t('admin.title')}` : t('admin.title'))
  if (!isTab(tab)) return <NotFoundPage />

  const content: Record<AdminTab, ReactNode> = {
    dashboard: <DashboardTab />,
    users: <UsersTab />,
    providers: <ProvidersTab />,
    models: <ModelsTab />,
    settings: <SettingsTab />,
    audit: <AuditTab />,
  }

  return (
    <Flex vertical gap={8} style={{ maxWidth: 1280, margin: '0 auto' }} data-testid="admin-page">
      <Typography.Title level={3} style={{ margin: 0 }}>
        {t('admin.title')}
      </Typography.Title>
      <Tabs
        activeKey={tab}
        onChange={(key) => void navigate(`/admin/${key}`)}
        // Only the open section mounts, so only its queries run.
        destroyOnHidden
        items={TABS.map((key) => ({ key, label: t(`admin.tabs.${key}`), children: content[key] }))}
      />
    </Flex>
  )
}
