import { DeleteOutlined, EditOutlined, ExperimentOutlined, KeyOutlined, PlusOutlined } from '@ant-design/icons'
import type { Channel, ChannelType, CreateChannelBody, ProviderKeyView, UpdateChannelBody } from '@qiao/shared'
import {
  Alert,
  App,
  Button,
  Card,
  Empty,
  Flex,
  Form,
  Input,
  InputNumber,
  Modal,
  Popconfirm,
  Select,
  Skeleton,
  Space,
  Switch,
  Table,
  Tag,
  Tooltip,
  Typography,
} from 'antd'
import type { ColumnsType } from 'antd/es/table'
import { useState } from 'react'
import { useTranslation } from 'react-i18next'
import { ApiError } from '../../api/client'
import { ErrorAlert } from '../../components/ErrorAlert'
import { errorText } from '../../components/error-text'
import { formatDateTime, formatRelative } from '../../components/format'
import {
  useAddKey,
  useAdminModels,
  useChannels,
  useCreateChannel,
  useDeleteChannel,
  useDeleteKey,
  useTestKey,
  useUpdateChannel,
  useUpdateKey,
} from './admin-api'

const CHANNEL_TYPES: ChannelType[] = ['dashscope', 'moonshot', 'openai-compatible']
const CIRCUIT_COLORS = { closed: 'success', open: 'error', half_open: 'warning' } as const

/** Upstream channels and their keys. Keys are write-only: after saving, only the hint is ever shown. */
export function ProvidersTab() {
  const { t } = useTranslation()
  const { message } = App.useApp()
  const channels = useChannels()
  const update = useUpdateChannel()
  const remove = useDeleteChannel()
  const [editing, setEditing] = useState<Channel | 'new' | null>(null)

  const toggle = async (channel: Channel, enabled: boolean) => {
    try {
      await update.mutateAsync({ id: channel.id, body: { enabled } })
    } catch (err) {
      void message.error(errorText(t, err))
    }
  }

  const columns: ColumnsType<Channel> = [
    {
      title: t('admin.providers.name'),
      key: 'name',
      width: 220,
      render: (_, c) => (
        <Flex vertical gap={2}>
          <Space size={4} wrap>
            <Typography.Text strong>{c.name}</Typography.Text>
            {c.emulated && (
              <Tooltip title={t('admin.providers.emulatedHint')}>
                <Tag color="orange" data-testid="emulated-tag">
                  {t('admin.providers.emulated')}
                </Tag>
              </Tooltip>
            )}
            {c.source !== 'admin' && <Tag>{t(`admin.providers.sources.${c.source}`)}</Tag>}
          </Space>
          <Typography.Text type="secondary" style={{ fontSize: 12 }}>
            {t(`admin.providers.types.${c.type}`)}
          </Typography.Text>
        </Flex>
      ),
    },
    {
      title: t('admin.providers.baseUrl'),
      dataIndex: 'baseUrl',
      ellipsis: true,
      render: (url: string) => (
        <Typography.Text code copyable={{ text: url }} style={{ fontSize: 12 }}>
          {url}
        </Typography.Text>
      ),
    },
    {
      title: t('admin.providers.models'),
      dataIndex: 'models',
      width: 90,
      render: (models: string[]) => (
        <Tooltip title={models.join(', ') || undefined}>
          <Tag>{t('admin.providers.modelCount', { count: models.length })}</Tag>
        </Tooltip>
      ),
    },
    { title: t('admin.providers.weight'), dataIndex: 'weight', width: 70, align: 'right' },
    { title: t('admin.providers.priority'), dataIndex: 'priority', width: 80, align: 'right' },
    {
      title: t('admin.providers.health'),
      key: 'health',
      width: 100,
      render: (_, c) => (
        <Tooltip title={c.lastError ?? undefined}>
          <Tag color={CIRCUIT_COLORS[c.circuit]}>{t(`admin.providers.circuit.${c.circuit}`)}</Tag>
        </Tooltip>
      ),
    },
    {
      title: t('admin.providers.enabled'),
      dataIndex: 'enabled',
      width: 70,
      render: (enabled: boolean, c) => (
        <Switch
          size="small"
          checked={enabled}
          onChange={(v) => void toggle(c, v)}
          aria-label={t('admin.providers.enabled')}
        />
      ),
    },
    {
      title: t('admin.actions'),
      key: 'actions',
      width: 100,
      render: (_, c) => (
        <Space size={4}>
          <Tooltip title={t('admin.edit')}>
            <Button size="small" icon={<EditOutlined />} aria-label={t('admin.edit')} onClick={() => setEditing(c)} />
          </Tooltip>
          <Popconfirm
            title={t('admin.providers.deleteConfirm', { name: c.name })}
            okText={t('admin.delete')}
            okButtonProps={{ danger: true }}
            cancelText={t('admin.cancel')}
            onConfirm={async () => {
              try {
                await remove.mutateAsync(c.id)
                void message.success(t('admin.deleted'))
              } catch (err) {
                void message.error(errorText(t, err))
              }
            }}
          >
            <Button size="small" danger icon={<DeleteOutlined />} aria-label={t('admin.delete')} />
          </Popconfirm>
        </Space>
      ),
    },
  ]

  return (
    <Flex vertical gap={12}>
      <Flex justify="space-between" align="center" wrap gap={8}>
        <Typography.Text type="secondary">{t('admin.providers.hint')}</Typography.Text>
        <Button type="primary" icon={<PlusOutlined />} onClick={() => setEditing('new')}>
          {t('admin.providers.add')}
        </Button>
      </Flex>
      {channels.error ? (
        <ErrorAlert error={channels.error} />
      ) : channels.isPending ? (
        <Skeleton active paragraph={{ rows: 6 }} />
      ) : (
        <Table<Channel>
          rowKey="id"
          size="middle"
          columns={columns}
          dataSource={channels.data}
          pagination={false}
          scroll={{ x: 1000 }}
          expandable={{
            expandedRowRender: (c) => <KeysPanel channel={c} />,
            rowExpandable: () => true,
          }}
          data-testid="channels-table"
          locale={{
            emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('admin.providers.empty')} />,
          }}
        />
      )}
      <ChannelModal channel={editing} onClose={() => setEditing(null)} />
    </Flex>
  )
}

interface ChannelForm {
  type: ChannelType
  name: string
  baseUrl: string
  models: string[]
  weight: number
  priority: number
  enabled: boolean
  key?: string
}

/** Create or edit a channel. The server's SSRF guard answers URL_NOT_ALLOWED; it is shown on the URL field. */
function ChannelModal({ channel, onClose }: { channel: Channel | 'new' | null; onClose: () => void }) {
  const { t } = useTranslation()
  const { message } = App.useApp()
  const [form] = Form.useForm<ChannelForm>()
  const models = useAdminModels()
  const create = useCreateChannel()
  const update = useUpdateChannel()
  const [error, setError] = useState<unknown>(null)
  const isNew = channel === 'new'
  const existing = channel !== 'new' ? channel : null
  // Server-managed channels (environment, emulator) keep their URL and type.
  const urlLocked = existing !== null && existing.source !== 'admin'

  const close = () => {
    setError(null)
    onClose()
  }

  const submit = async (values: ChannelForm) => {
    setError(null)
    try {
      if (existing) {
        const body: UpdateChannelBody = {
          name: values.name.trim(),
          models: values.models,
          weight: values.weight,
          priority: values.priority,
          enabled: values.enabled,
          ...(urlLocked ? {} : { baseUrl: values.baseUrl.trim() }),
        }
        await update.mutateAsync({ id: existing.id, body })
      } else {
        const body: CreateChannelBody = {
          type: values.type,
          name: values.name.trim(),
          baseUrl: values.baseUrl.trim(),
          models: values.models,
          weight: values.weight,
          priority: values.priority,
          enabled: values.enabled,
          ...(values.key?.trim() ? { keys: [values.key.trim()] } : {}),
        }
        await create.mutateAsync(body)
      }
      void message.success(t('admin.saved'))
      close()
    } catch (err) {
      if (err instanceof ApiError && err.code === 'URL_NOT_ALLOWED') {
        form.setFields([{ name: 'baseUrl', errors: [t('admin.providers.urlNotAllowed')] }])
        return
      }
      if (err instanceof ApiError && err.extra.details?.length) {
        // Validation details name the field (`/baseUrl`, `/models/0`): show each next to its input.
        const fields = err.extra.details
          .map((d) => ({ name: d.path.split('/')[1] ?? '', errors: [d.message] }))
          .filter((f) => ['name', 'baseUrl', 'models', 'weight', 'priority', 'key', 'keys'].includes(f.name))
          .map((f) => ({ ...f, name: f.name === 'keys' ? 'key' : f.name }))
        if (fields.length) form.setFields(fields as Parameters<typeof form.setFields>[0])
      }
      setError(err)
    }
  }

  const initial: ChannelForm = existing
    ? {
        type: existing.type,
        name: existing.name,
        baseUrl: existing.baseUrl,
        models: existing.models,
        weight: existing.weight,
        priority: existing.priority,
        enabled: existing.enabled,
      }
    : { type: 'openai-compatible', name: '', baseUrl: '', models: [], weight: 1, priority: 0, enabled: true }

  return (
    <Modal
      open={channel !== null}
      title={isNew ? t('admin.providers.add') : t('admin.providers.editTitle', { name: existing?.name ?? '' })}
      okText={t('admin.save')}
      cancelText={t('admin.cancel')}
      confirmLoading={create.isPending || update.isPending}
      onOk={() => form.submit()}
      onCancel={close}
      destroyOnHidden
      width={620}
    >
      <Flex vertical gap={12}>
        {existing?.emulated && <Alert type="warning" showIcon title={t('admin.providers.emulatedHint')} />}
        {error !== null && !(error instanceof ApiError && error.code === 'URL_NOT_ALLOWED') && (
          <ErrorAlert error={error} />
        )}
        <Form<ChannelForm>
          form={form}
          layout="vertical"
          initialValues={initial}
          onFinish={(v) => void submit(v)}
          requiredMark={false}
          preserve={false}
        >
          <Flex gap={12} wrap>
            <Form.Item name="type" label={t('admin.providers.type')} style={{ flex: '1 1 200px' }}>
              <Select
                disabled={!isNew}
                options={CHANNEL_TYPES.map((type) => ({ value: type, label: t(`admin.providers.types.${type}`) }))}
              />
            </Form.Item>
            <Form.Item
              name="name"
              label={t('admin.providers.name')}
              style={{ flex: '1 1 200px' }}
              rules={[{ required: true, whitespace: true, message: t('validation.required') }, { max: 128 }]}
            >
              <Input maxLength={128} />
            </Form.Item>
          </Flex>
          <Form.Item
            name="baseUrl"
            label={t('admin.providers.baseUrl')}
            extra={urlLocked ? t('admin.providers.urlLocked') : t('admin.providers.baseUrlHint')}
            rules={[{ required: true, whitespace: true, message: t('validation.required') }, { max: 512 }]}
          >
            <Input disabled={urlLocked} placeholder="https://api.example.com/v1" maxLength={512} spellCheck={false} />
          </Form.Item>
          <Form.Item name="models" label={t('admin.providers.models')} extra={t('admin.providers.modelsHint')}>
            <Select
              mode="tags"
              tokenSeparators={[',', ' ']}
              options={(models.data ?? []).map((m) => ({ value: m.id, label: `${m.displayName} (${m.id})` }))}
              placeholder={t('admin.providers.modelsPlaceholder')}
              maxTagCount="responsive"
            />
          </Form.Item>
          <Flex gap={12} wrap>
            <Form.Item name="weight" label={t('admin.providers.weight')} tooltip={t('admin.providers.weightHint')}>
              <InputNumber min={0} max={1000} precision={0} />
            </Form.Item>
            <Form.Item
              name="priority"
              label={t('admin.providers.priority')}
              tooltip={t('admin.providers.priorityHint')}
            >
              <InputNumber min={-1000} max={1000} precision={0} />
            </Form.Item>
            <Form.Item name="enabled" label={t('admin.providers.enabled')} valuePropName="checked">
              <Switch />
            </Form.Item>
          </Flex>
          {isNew && (
            <Form.Item name="key" label={t('admin.providers.firstKey')} extra={t('admin.providers.keyWriteOnly')}>
              <Input.Password autoComplete="new-password" spellCheck={false} visibilityToggle={false} />
            </Form.Item>
          )}
        </Form>
      </Flex>
    </Modal>
  )
}

/** A channel's keys: hint, health and last error; add (write-only), test, disable/enable, delete. */
function KeysPanel({ channel }: { channel: Channel }) {
  const { t, i18n } = useTranslation()
  const { message } = App.useApp()
  const [secret, setSecret] = useState('')
  const add = useAddKey()
  const updateKey = useUpdateKey()
  const removeKey = useDeleteKey()
  const test = useTestKey()
  const [testing, setTesting] = useState<string | null>(null)

  const addKey = async () => {
    const value = secret.trim()
    if (!value) return
    try {
      await add.mutateAsync({ channelId: channel.id, secret: value })
      setSecret('')
      void message.success(t('admin.providers.keyAdded'))
    } catch (err) {
      void message.error(errorText(t, err))
    }
  }

  const runTest = async (key: ProviderKeyView) => {
    setTesting(key.id)
    try {
      const result = await test.mutateAsync({ channelId: channel.id, keyId: key.id })
      if (result.ok) void message.success(t('admin.providers.testOk', { ms: result.latencyMs }))
      else void message.error(t('admin.providers.testFailed', { error: result.error?.message ?? '' }))
    } catch (err) {
      void message.error(errorText(t, err))
    } finally {
      setTesting(null)
    }
  }

  const act = async (work: () => Promise<unknown>) => {
    try {
      await work()
    } catch (err) {
      void message.error(errorText(t, err))
    }
  }

  const columns: ColumnsType<ProviderKeyView> = [
    {
      title: t('admin.providers.keyHint'),
      dataIndex: 'hint',
      render: (hint: string) => <Typography.Text code>{hint}</Typography.Text>,
    },
    {
      title: t('admin.providers.keyStatus'),
      dataIndex: 'status',
      width: 110,
      render: (status: ProviderKeyView['status'], k) => (
        <Tooltip title={k.disabledReason ?? undefined}>
          <Tag color={status === 'active' ? 'success' : 'default'}>{t(`admin.providers.keyStatuses.${status}`)}</Tag>
        </Tooltip>
      ),
    },
    {
      title: t('admin.providers.lastError'),
      dataIndex: 'lastError',
      ellipsis: true,
      render: (e: string | null) =>
        e ? (
          <Tooltip title={e}>
            <Typography.Text type="danger">{e}</Typography.Text>
          </Tooltip>
        ) : (
          <Typography.Text type="secondary">—</Typography.Text>
        ),
    },
    {
      title: t('admin.providers.lastUsed'),
      dataIndex: 'lastUsedAt',
      width: 140,
      render: (iso: string | null) =>
        iso ? <Tooltip title={formatDateTime(iso, i18n.language)}>{formatRelative(iso, i18n.language)}</Tooltip> : '—',
    },
    {
      title: t('admin.actions'),
      key: 'actions',
      width: 250,
      render: (_, k) => (
        <Space size={4} wrap>
          <Button size="small" icon={<ExperimentOutlined />} loading={testing === k.id} onClick={() => void runTest(k)}>
            {t('admin.providers.test')}
          </Button>
          <Button
            size="small"
            onClick={() =>
              void act(() =>
                updateKey.mutateAsync({
                  channelId: channel.id,
                  keyId: k.id,
                  status: k.status === 'active' ? 'disabled' : 'active',
                }),
              )
            }
          >
            {k.status === 'active' ? t('admin.providers.disableKey') : t('admin.providers.enableKey')}
          </Button>
          <Popconfirm
            title={t('admin.providers.deleteKeyConfirm', { hint: k.hint })}
            okText={t('admin.delete')}
            okButtonProps={{ danger: true }}
            cancelText={t('admin.cancel')}
            onConfirm={() => act(() => removeKey.mutateAsync({ channelId: channel.id, keyId: k.id }))}
          >
            <Button size="small" danger icon={<DeleteOutlined />} aria-label={t('admin.delete')} />
          </Popconfirm>
        </Space>
      ),
    },
  ]

  return (
    <Card size="small" title={t('admin.providers.keys')} style={{ margin: '4px 0' }}>
      <Flex vertical gap={12}>
        <Table<ProviderKeyView>
          rowKey="id"
          size="small"
          columns={columns}
          dataSource={channel.keys}
          pagination={false}
          scroll={{ x: 760 }}
          locale={{ emptyText: t('admin.providers.noKeys') }}
        />
        <Flex gap={8} wrap align="center">
          <Input.Password
            value={secret}
            onChange={(e) => setSecret(e.target.value)}
            onPressEnter={() => void addKey()}
            placeholder={t('admin.providers.newKeyPlaceholder')}
            autoComplete="new-password"
            spellCheck={false}
            visibilityToggle={false}
            prefix={<KeyOutlined />}
            style={{ maxWidth: 360 }}
            aria-label={t('admin.providers.newKey')}
          />
          <Button onClick={() => void addKey()} loading={add.isPending} disabled={!secret.trim()}>
            {t('admin.providers.addKey')}
          </Button>
          <Typography.Text type="secondary" style={{ fontSize: 12 }}>
            {t('admin.providers.rotateHint')}
          </Typography.Text>
        </Flex>
      </Flex>
    </Card>
  )
}
