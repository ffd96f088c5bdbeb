import { KeyOutlined } from '@ant-design/icons'
import type { ApiKey, CreatedApiKey } from '@qiao/shared'
import { Alert, App, Button, Empty, Flex, Form, Input, Modal, Popconfirm, Select, Skeleton, Tag, Typography, theme } from 'antd'
import { useState } from 'react'
import { useTranslation } from 'react-i18next'
import { ErrorAlert } from '../../components/ErrorAlert'
import { formatDateTime, formatRelative } from '../../components/format'
import { formatYuan, parseYuan } from '../billing/money'
import { modelLabel } from '../chat/chat-format'
import { EXPIRY_DAYS, expiryFrom, useApiKeys, useCreateApiKey, useRevokeApiKey, useUsableModels } from './apikeys-api'

interface CreateForm {
  name: string
  expiryDays: number
  monthlyLimit?: string
  allowedModels?: string[]
}

/** The most a monthly limit may be, as the server accepts it: ¥1,000,000. */
const MAX_LIMIT_MICRO = 1_000_000_000_000

/** Settings → API keys: create (the secret shown once), list, revoke. */
export function ApiKeysPanel() {
  const { t } = useTranslation()
  const keys = useApiKeys()
  const [creating, setCreating] = useState(false)
  const [created, setCreated] = useState<CreatedApiKey | undefined>()

  return (
    <Flex vertical gap={16}>
      <Typography.Paragraph type="secondary" style={{ margin: 0 }}>
        {t('apikeys.hint', { baseUrl: `${window.location.origin}/v1` })}
      </Typography.Paragraph>
      <Flex>
        <Button type="primary" icon={<KeyOutlined />} onClick={() => setCreating(true)}>
          {t('apikeys.create')}
        </Button>
      </Flex>
      {keys.isPending ? (
        <Skeleton active paragraph={{ rows: 3 }} />
      ) : keys.isError ? (
        <ErrorAlert error={keys.error} />
      ) : keys.data.length === 0 ? (
        <Empty description={t('apikeys.empty')} />
      ) : (
        <Flex vertical gap={8} role="list" data-testid="api-keys">
          {keys.data.map((key) => (
            <KeyRow key={key.id} apiKey={key} />
          ))}
        </Flex>
      )}
      <CreateKeyModal
        open={creating}
        onClose={() => setCreating(false)}
        onCreated={(c) => {
          setCreating(false)
          setCreated(c)
        }}
      />
      <SecretModal created={created} onClose={() => setCreated(undefined)} />
    </Flex>
  )
}

function KeyRow({ apiKey }: { apiKey: ApiKey }) {
  const { t, i18n } = useTranslation()
  const { token } = theme.useToken()
  const { message } = App.useApp()
  const revoke = useRevokeApiKey()
  const color = apiKey.status === 'active' ? 'green' : apiKey.status === 'expired' ? 'orange' : 'default'
  return (
    <Flex
      role="listitem"
      justify="space-between"
      align="center"
      gap={12}
      wrap
      style={{ padding: 12, border: `1px solid ${token.colorBorderSecondary}`, borderRadius: token.borderRadiusLG }}
    >
      <Flex vertical gap={4} style={{ minWidth: 0 }}>
        <Flex gap={8} align="center" wrap>
          <Typography.Text strong>{apiKey.name}</Typography.Text>
          <Typography.Text code>{apiKey.prefix}…</Typography.Text>
          <Tag color={color}>{t(`apikeys.status.${apiKey.status}`)}</Tag>
        </Flex>
        <Typography.Text type="secondary" style={{ fontSize: token.fontSizeSM }}>
          {[
            apiKey.lastUsedAt ? t('apikeys.lastUsed', { time: formatRelative(apiKey.lastUsedAt, i18n.language) }) : t('apikeys.neverUsed'),
            t('apikeys.created', { time: formatDateTime(apiKey.createdAt, i18n.language) }),
            apiKey.expiresAt ? t('apikeys.expires', { time: formatDateTime(apiKey.expiresAt, i18n.language) }) : t('apikeys.noExpiry'),
          ].join(' · ')}
        </Typography.Text>
        <Typography.Text type="secondary" style={{ fontSize: token.fontSizeSM }}>
          {apiKey.monthlyLimit !== null
            ? t('apikeys.spentOfLimit', { spent: formatYuan(apiKey.monthSpent), limit: formatYuan(apiKey.monthlyLimit) })
            : t('apikeys.spent', { spent: formatYuan(apiKey.monthSpent) })}
          {' · '}
          {apiKey.allowedModels ? t('apikeys.models', { models: apiKey.allowedModels.join(', ') }) : t('apikeys.allModels')}
        </Typography.Text>
      </Flex>
      {apiKey.status === 'active' && (
        <Popconfirm
          title={t('apikeys.revokeConfirm')}
          okText={t('apikeys.revoke')}
          cancelText={t('settings.cancel')}
          okButtonProps={{ danger: true }}
          onConfirm={() => revoke.mutateAsync(apiKey).then(() => void message.success(t('apikeys.revoked')))}
        >
          <Button danger loading={revoke.isPending}>
            {t('apikeys.revoke')}
          </Button>
        </Popconfirm>
      )}
    </Flex>
  )
}

function CreateKeyModal({ open, onClose, onCreated }: { open: boolean; onClose: () => void; onCreated: (c: CreatedApiKey) => void }) {
  const { t } = useTranslation()
  const [form] = Form.useForm<CreateForm>()
  const models = useUsableModels()
  const create = useCreateApiKey()

  const submit = async (values: CreateForm) => {
    const limit = values.monthlyLimit?.trim() ? parseYuan(values.monthlyLimit, MAX_LIMIT_MICRO) : null
    const result = await create.mutateAsync({
      name: values.name.trim(),
      expiresAt: expiryFrom(values.expiryDays),
      monthlyLimit: limit,
      allowedModels: values.allowedModels?.length ? values.allowedModels : null,
    })
    form.resetFields()
    onCreated(result)
  }

  return (
    <Modal
      open={open}
      title={t('apikeys.create')}
      okText={t('apikeys.createOk')}
      cancelText={t('settings.cancel')}
      confirmLoading={create.isPending}
      onOk={() => form.submit()}
      onCancel={onClose}
      destroyOnHidden
    >
      <ErrorAlert error={create.error} />
      <Form form={form} layout="vertical" initialValues={{ expiryDays: 90 }} onFinish={(v) => void submit(v).catch(() => undefined)} requiredMark={false}>
        <Form.Item name="name" label={t('apikeys.name')} rules={[{ required: true, whitespace: true, max: 64, message: t('apikeys.nameRequired') }]}>
          <Input placeholder={t('apikeys.namePlaceholder')} maxLength={64} autoFocus />
        </Form.Item>
        <Form.Item name="expiryDays" label={t('apikeys.expiry')}>
          <Select options={EXPIRY_DAYS.map((d) => ({ value: d, label: d === 0 ? t('apikeys.never') : t('apikeys.days', { count: d }) }))} />
        </Form.Item>
        <Form.Item
          name="monthlyLimit"
          label={t('apikeys.monthlyLimit')}
          extra={t('apikeys.monthlyLimitHint')}
          rules={[
            {
              validator: async (_r, v?: string) => {
                if (!v?.trim()) return
                const micro = parseYuan(v, MAX_LIMIT_MICRO)
                if (micro === null || micro <= 0) throw new Error(t('apikeys.limitInvalid'))
              },
            },
          ]}
        >
          <Input prefix="¥" inputMode="decimal" placeholder={t('apikeys.noLimit')} />
        </Form.Item>
        <Form.Item name="allowedModels" label={t('apikeys.allowedModels')} extra={t('apikeys.allowedModelsHint')}>
          <Select
            mode="multiple"
            allowClear
            loading={models.isPending}
            placeholder={t('apikeys.allModels')}
            options={(models.data ?? []).map((m) => ({ value: m.id, label: `${modelLabel(m, t)} · ${m.id}` }))}
          />
        </Form.Item>
      </Form>
    </Modal>
  )
}

function SecretModal({ created, onClose }: { created: CreatedApiKey | undefined; onClose: () => void }) {
  const { t } = useTranslation()
  return (
    <Modal
      open={!!created}
      title={t('apikeys.createdTitle')}
      onCancel={onClose}
      footer={
        <Button type="primary" onClick={onClose}>
          {t('apikeys.secretSaved')}
        </Button>
      }
      maskClosable={false}
      // The secret leaves the DOM once the dialog closes, not just the screen.
      destroyOnHidden
    >
      <Flex vertical gap={12}>
        <Alert type="warning" showIcon title={t('apikeys.secretOnce')} />
        <Typography.Paragraph copyable={{ text: created?.secret ?? '' }} code style={{ wordBreak: 'break-all', margin: 0 }} data-testid="api-key-secret">
          {created?.secret}
        </Typography.Paragraph>
      </Flex>
    </Modal>
  )
}
