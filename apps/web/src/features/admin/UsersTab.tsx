import { CheckCircleOutlined, DollarOutlined, StopOutlined } from '@ant-design/icons'
import type { AdminUser, Role, UserStatus } from '@qiao/shared'
import { MAX_MONEY } from '@qiao/shared'
import {
  App,
  Button,
  Empty,
  Flex,
  Form,
  Input,
  Modal,
  Radio,
  Select,
  Skeleton,
  Space,
  Table,
  Tag,
  Typography,
} from 'antd'
import type { ColumnsType } from 'antd/es/table'
import { useState } from 'react'
import { useTranslation } from 'react-i18next'
import { useSession } from '../../api/session'
import { EmailText } from '../../components/EmailText'
import { ErrorAlert } from '../../components/ErrorAlert'
import { errorText } from '../../components/error-text'
import { formatDateTime } from '../../components/format'
import { formatYuan, parseYuan } from '../billing/money'
import { useNumberFormat } from '../usage/format'
import { useAdjustBalance, useAdminUsers, useUpdateUser, type UserFilters } from './admin-api'

/** Accounts: search, role and status (with confirmation), balance adjustments, usage totals. */
export function UsersTab() {
  const { t, i18n } = useTranslation()
  const { modal, message } = App.useApp()
  const fmt = useNumberFormat()
  const me = useSession((s) => s.user?.id)
  const [filters, setFilters] = useState<UserFilters>({})
  const users = useAdminUsers(filters)
  const update = useUpdateUser()
  const [adjusting, setAdjusting] = useState<AdminUser | null>(null)
  const rows = users.data?.pages.flatMap((p) => p.items) ?? []

  const name = (u: AdminUser) => u.displayName || u.username || u.email

  const changeRole = (user: AdminUser, role: Role) => {
    modal.confirm({
      title: t('admin.users.roleConfirmTitle'),
      content: t(role === 'admin' ? 'admin.users.makeAdminConfirm' : 'admin.users.makeUserConfirm', {
        name: name(user),
      }),
      okText: t('admin.confirm'),
      cancelText: t('admin.cancel'),
      onOk: async () => {
        try {
          await update.mutateAsync({ id: user.id, body: { role } })
          void message.success(t('admin.saved'))
        } catch (err) {
          void message.error(errorText(t, err))
        }
      },
    })
  }

  const changeStatus = (user: AdminUser, status: UserStatus) => {
    modal.confirm({
      title: t(status === 'disabled' ? 'admin.users.disableTitle' : 'admin.users.enableTitle', { name: name(user) }),
      content: status === 'disabled' ? t('admin.users.disableHint') : undefined,
      okText: t(status === 'disabled' ? 'admin.users.disable' : 'admin.users.enable'),
      okButtonProps: { danger: status === 'disabled' },
      cancelText: t('admin.cancel'),
      onOk: async () => {
        try {
          await update.mutateAsync({ id: user.id, body: { status } })
          void message.success(t(status === 'disabled' ? 'admin.users.disabled' : 'admin.users.enabled'))
        } catch (err) {
          void message.error(errorText(t, err))
        }
      },
    })
  }

  const columns: ColumnsType<AdminUser> = [
    {
      title: t('admin.users.user'),
      key: 'user',
      width: 220,
      render: (_, u) => (
        // width 0 + min-width 100%: the cell's text adds nothing to the column's auto width, so the
        // column keeps its 220 px and long names and addresses end in "…" instead of widening it.
        <Flex vertical style={{ width: 0, minWidth: '100%' }}>
          <Typography.Text strong ellipsis title={name(u)}>
            {name(u)}
            {u.id === me && <Tag style={{ marginInlineStart: 6 }}>{t('admin.users.you')}</Tag>}
          </Typography.Text>
          <EmailText email={u.email} ellipsis secondary style={{ fontSize: 12 }} />
        </Flex>
      ),
    },
    {
      title: t('admin.users.role'),
      dataIndex: 'role',
      // Wide enough for "Administrator" in English.
      width: 150,
      render: (role: Role, u) => (
        <Select<Role>
          size="small"
          value={role}
          disabled={u.id === me}
          onChange={(next) => changeRole(u, next)}
          options={[
            { value: 'user', label: t('settings.roleUser') },
            { value: 'admin', label: t('settings.roleAdmin') },
          ]}
          aria-label={t('admin.users.role')}
          style={{ width: 140 }}
        />
      ),
    },
    {
      title: t('admin.users.status'),
      dataIndex: 'status',
      width: 90,
      render: (status: UserStatus) => (
        <Tag color={status === 'active' ? 'success' : 'error'} data-testid="user-status">
          {t(`admin.users.statuses.${status}`)}
        </Tag>
      ),
    },
    {
      title: t('admin.users.balance'),
      dataIndex: 'balance',
      align: 'right',
      width: 110,
      render: (micro: number) => <span style={{ fontVariantNumeric: 'tabular-nums' }}>{formatYuan(micro)}</span>,
    },
    {
      title: t('admin.users.usage'),
      key: 'usage',
      align: 'right',
      width: 130,
      render: (_, u) => (
        <Flex vertical>
          <span style={{ fontVariantNumeric: 'tabular-nums' }}>{formatYuan(u.usage.cost)}</span>
          <Typography.Text type="secondary" style={{ fontSize: 12 }}>
            {t('admin.users.callCount', { formatted: fmt(u.usage.calls) })}
          </Typography.Text>
        </Flex>
      ),
    },
    {
      title: t('admin.users.createdAt'),
      dataIndex: 'createdAt',
      width: 150,
      render: (iso: string) => formatDateTime(iso, i18n.language),
    },
    {
      title: t('admin.actions'),
      key: 'actions',
      width: 190,
      render: (_, u) => (
        <Space size={4}>
          <Button size="small" icon={<DollarOutlined />} onClick={() => setAdjusting(u)}>
            {t('admin.users.adjust')}
          </Button>
          {u.status === 'active' ? (
            <Button
              size="small"
              danger
              icon={<StopOutlined />}
              disabled={u.id === me}
              onClick={() => changeStatus(u, 'disabled')}
              data-testid="disable-user"
            >
              {t('admin.users.disable')}
            </Button>
          ) : (
            <Button size="small" icon={<CheckCircleOutlined />} onClick={() => changeStatus(u, 'active')}>
              {t('admin.users.enable')}
            </Button>
          )}
        </Space>
      ),
    },
  ]

  return (
    <Flex vertical gap={12}>
      <Flex wrap gap={8}>
        <Input.Search
          allowClear
          placeholder={t('admin.users.searchPlaceholder')}
          onSearch={(q) => setFilters((f) => ({ ...f, q: q.trim() || undefined }))}
          style={{ maxWidth: 320 }}
          aria-label={t('admin.users.search')}
          data-testid="user-search"
        />
        <Select<Role>
          allowClear
          placeholder={t('admin.users.allRoles')}
          onChange={(role?: Role) => setFilters((f) => ({ ...f, role }))}
          options={[
            { value: 'user', label: t('settings.roleUser') },
            { value: 'admin', label: t('settings.roleAdmin') },
          ]}
          style={{ minWidth: 130 }}
        />
        <Select<UserStatus>
          allowClear
          placeholder={t('admin.users.allStatuses')}
          onChange={(status?: UserStatus) => setFilters((f) => ({ ...f, status }))}
          options={(['active', 'disabled'] as const).map((s) => ({ value: s, label: t(`admin.users.statuses.${s}`) }))}
          style={{ minWidth: 130 }}
        />
      </Flex>
      {users.error ? (
        <ErrorAlert error={users.error} />
      ) : users.isPending ? (
        <Skeleton active paragraph={{ rows: 6 }} />
      ) : (
        <>
          <Table<AdminUser>
            rowKey="id"
            size="middle"
            columns={columns}
            dataSource={rows}
            pagination={false}
            loading={users.isFetching && !users.isFetchingNextPage}
            scroll={{ x: 1000 }}
            data-testid="users-table"
            locale={{ emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('admin.users.empty')} /> }}
          />
          {users.hasNextPage && (
            <Flex justify="center">
              <Button onClick={() => void users.fetchNextPage()} loading={users.isFetchingNextPage}>
                {t('lists.loadMore')}
              </Button>
            </Flex>
          )}
        </>
      )}
      <AdjustBalanceModal user={adjusting} onClose={() => setAdjusting(null)} />
    </Flex>
  )
}

interface AdjustForm {
  direction: 'add' | 'deduct'
  amount: string
  reason: string
}

/** Credit or debit an account, with a reason the ledger and the audit log keep. */
function AdjustBalanceModal({ user, onClose }: { user: AdminUser | null; onClose: () => void }) {
  const { t } = useTranslation()
  const { message } = App.useApp()
  const [form] = Form.useForm<AdjustForm>()
  const adjust = useAdjustBalance()
  const [error, setError] = useState<unknown>(null)

  const submit = async (values: AdjustForm) => {
    if (!user) return
    const micro = parseYuan(values.amount, MAX_MONEY)
    if (micro === null || micro <= 0) return
    setError(null)
    try {
      const { entry } = await adjust.mutateAsync({
        id: user.id,
        body: { delta: values.direction === 'add' ? micro : -micro, reason: values.reason.trim() },
      })
      void message.success(t('admin.users.adjusted', { balance: formatYuan(entry.balanceAfter) }))
      form.resetFields()
      onClose()
    } catch (err) {
      setError(err)
    }
  }

  return (
    <Modal
      open={user !== null}
      title={user ? t('admin.users.adjustTitle', { name: user.displayName || user.email }) : ''}
      okText={t('admin.users.adjust')}
      cancelText={t('admin.cancel')}
      confirmLoading={adjust.isPending}
      onOk={() => form.submit()}
      onCancel={() => {
        setError(null)
        form.resetFields()
        onClose()
      }}
      destroyOnHidden
    >
      <Flex vertical gap={12}>
        {user && (
          <Typography.Text type="secondary">
            {t('admin.users.currentBalance', { balance: formatYuan(user.balance) })}
          </Typography.Text>
        )}
        <ErrorAlert error={error} />
        <Form<AdjustForm>
          form={form}
          layout="vertical"
          initialValues={{ direction: 'add', amount: '', reason: '' }}
          onFinish={(v) => void submit(v)}
          requiredMark={false}
        >
          <Form.Item name="direction">
            <Radio.Group
              optionType="button"
              options={[
                { value: 'add', label: t('admin.users.credit') },
                { value: 'deduct', label: t('admin.users.debit') },
              ]}
            />
          </Form.Item>
          <Form.Item
            name="amount"
            label={t('admin.users.amount')}
            rules={[
              {
                validator: (_, value: string) => {
                  const micro = parseYuan(value ?? '', MAX_MONEY)
                  return micro !== null && micro > 0
                    ? Promise.resolve()
                    : Promise.reject(new Error(t('admin.invalidAmount')))
                },
              },
            ]}
          >
            <Input prefix="¥" inputMode="decimal" placeholder="10.00" autoComplete="off" />
          </Form.Item>
          <Form.Item
            name="reason"
            label={t('admin.users.reason')}
            rules={[{ required: true, whitespace: true, message: t('validation.required') }, { max: 500 }]}
          >
            <Input.TextArea rows={2} maxLength={500} placeholder={t('admin.users.reasonPlaceholder')} />
          </Form.Item>
        </Form>
      </Flex>
    </Modal>
  )
}
