import { EditOutlined } from '@ant-design/icons'
import type { AdminModel, UpdateModelBody } from '@qiao/shared'
import { MAX_MONEY } from '@qiao/shared'
import { App, Button, Empty, Flex, Form, Input, Modal, Skeleton, Switch, Table, Tag, Tooltip, Typography } from 'antd'
import type { ColumnsType } from 'antd/es/table'
import { useState } from 'react'
import { useTranslation } from 'react-i18next'
import { ErrorAlert } from '../../components/ErrorAlert'
import { errorText } from '../../components/error-text'
import { formatYuan, microToYuanString, parseYuan } from '../billing/money'
import { useAdminModels, useUpdateModel } from './admin-api'

type PriceKey = 'inputPerMTok' | 'outputPerMTok' | 'perImage'
const PRICE_KEYS: PriceKey[] = ['inputPerMTok', 'outputPerMTok', 'perImage']

/** The model catalog: availability, display names and prices (¥ per million tokens or per image). */
export function ModelsTab() {
  const { t } = useTranslation()
  const { message } = App.useApp()
  const models = useAdminModels()
  const update = useUpdateModel()
  const [editing, setEditing] = useState<AdminModel | null>(null)

  const toggle = async (model: AdminModel, enabled: boolean) => {
    try {
      await update.mutateAsync({ id: model.id, body: { enabled } })
    } catch (err) {
      void message.error(errorText(t, err))
    }
  }

  const price = (micro: number | undefined, unit: string) =>
    micro === undefined ? (
      <Typography.Text type="secondary">—</Typography.Text>
    ) : (
      <Flex vertical style={{ fontVariantNumeric: 'tabular-nums', whiteSpace: 'nowrap' }}>
        <span>{formatYuan(micro)}</span>
        <Typography.Text type="secondary" style={{ fontSize: 12 }}>
          {unit}
        </Typography.Text>
      </Flex>
    )

  const columns: ColumnsType<AdminModel> = [
    {
      title: t('admin.models.model'),
      key: 'model',
      width: 220,
      render: (_, m) => (
        <Flex vertical gap={2} style={{ minWidth: 0 }}>
          <Flex gap={4} wrap align="center">
            <Typography.Text strong>{m.displayName}</Typography.Text>
            {m.emulated && <Tag color="orange">{t('admin.providers.emulated')}</Tag>}
          </Flex>
          <Typography.Text type="secondary" style={{ fontSize: 12 }} copyable={{ text: m.id }}>
            {m.id}
          </Typography.Text>
        </Flex>
      ),
    },
    {
      title: t('admin.models.provider'),
      dataIndex: 'provider',
      width: 100,
      render: (p: string, m) => (
        <Flex vertical gap={2}>
          <span>{p}</span>
          <Typography.Text type="secondary" style={{ fontSize: 12 }}>
            {t(`admin.models.kinds.${m.kind}`)}
          </Typography.Text>
        </Flex>
      ),
    },
    {
      title: t('admin.models.enabled'),
      dataIndex: 'enabled',
      width: 70,
      render: (enabled: boolean, m) => (
        <Switch
          size="small"
          checked={enabled}
          onChange={(v) => void toggle(m, v)}
          aria-label={t('admin.models.enabled')}
        />
      ),
    },
    {
      title: t('admin.models.served'),
      dataIndex: 'served',
      width: 80,
      render: (served: boolean) => (
        <Tooltip title={served ? undefined : t('admin.models.notServedHint')}>
          <Tag color={served ? 'success' : 'default'}>{served ? t('admin.models.yes') : t('admin.models.no')}</Tag>
        </Tooltip>
      ),
    },
    {
      title: t('admin.models.input'),
      key: 'input',
      align: 'right',
      width: 110,
      render: (_, m) => price(m.prices.inputPerMTok, t('admin.models.perMTok')),
    },
    {
      title: t('admin.models.output'),
      key: 'output',
      align: 'right',
      width: 110,
      render: (_, m) => price(m.prices.outputPerMTok, t('admin.models.perMTok')),
    },
    {
      title: t('admin.models.image'),
      key: 'image',
      align: 'right',
      width: 100,
      render: (_, m) => price(m.prices.perImage, t('admin.models.perImageUnit')),
    },
    {
      title: t('admin.models.priceSource'),
      dataIndex: 'priceSource',
      ellipsis: true,
      render: (s: string | null) =>
        s ? (
          <Tooltip title={s}>
            <Typography.Text type="secondary" style={{ fontSize: 12 }}>
              {s}
            </Typography.Text>
          </Tooltip>
        ) : (
          <Typography.Text type="secondary">—</Typography.Text>
        ),
    },
    {
      title: t('admin.actions'),
      key: 'actions',
      width: 60,
      render: (_, m) => (
        <Tooltip title={t('admin.edit')}>
          <Button size="small" icon={<EditOutlined />} aria-label={t('admin.edit')} onClick={() => setEditing(m)} />
        </Tooltip>
      ),
    },
  ]

  if (models.error) return <ErrorAlert error={models.error} />
  if (models.isPending) return <Skeleton active paragraph={{ rows: 8 }} />
  return (
    <Flex vertical gap={12}>
      <Typography.Text type="secondary">{t('admin.models.hint')}</Typography.Text>
      <Table<AdminModel>
        rowKey="id"
        size="middle"
        columns={columns}
        dataSource={models.data}
        pagination={false}
        scroll={{ x: 1010 }}
        data-testid="models-table"
        locale={{ emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} /> }}
      />
      <ModelModal model={editing} onClose={() => setEditing(null)} />
    </Flex>
  )
}

interface ModelForm {
  displayName: string
  inputPerMTok: string
  outputPerMTok: string
  perImage: string
  priceSource: string
}

function ModelModal({ model, onClose }: { model: AdminModel | null; onClose: () => void }) {
  const { t } = useTranslation()
  const { message } = App.useApp()
  const [form] = Form.useForm<ModelForm>()
  const update = useUpdateModel()
  const [error, setError] = useState<unknown>(null)

  const close = () => {
    setError(null)
    onClose()
  }

  const submit = async (values: ModelForm) => {
    if (!model) return
    // An empty field clears the price (null); anything else was validated as an exact decimal.
    const prices = Object.fromEntries(
      PRICE_KEYS.map((key) => [key, values[key].trim() ? parseYuan(values[key], MAX_MONEY) : null]),
    ) as NonNullable<UpdateModelBody['prices']>
    const body: UpdateModelBody = {
      displayName: values.displayName.trim(),
      prices,
      ...(values.priceSource.trim() ? { priceSource: values.priceSource.trim() } : {}),
    }
    setError(null)
    try {
      await update.mutateAsync({ id: model.id, body })
      void message.success(t('admin.saved'))
      close()
    } catch (err) {
      setError(err)
    }
  }

  const priceRule = {
    validator: (_: unknown, value: string | undefined) => {
      if (!value?.trim()) return Promise.resolve()
      const micro = parseYuan(value, MAX_MONEY)
      return micro !== null && micro >= 0 ? Promise.resolve() : Promise.reject(new Error(t('admin.invalidAmount')))
    },
  }
  const asText = (micro: number | undefined) => (micro === undefined ? '' : microToYuanString(micro))

  return (
    <Modal
      open={model !== null}
      title={model ? t('admin.models.editTitle', { name: model.id }) : ''}
      okText={t('admin.save')}
      cancelText={t('admin.cancel')}
      confirmLoading={update.isPending}
      onOk={() => form.submit()}
      onCancel={close}
      destroyOnHidden
    >
      {model && (
        <Flex vertical gap={12}>
          <ErrorAlert error={error} />
          <Form<ModelForm>
            form={form}
            layout="vertical"
            preserve={false}
            requiredMark={false}
            initialValues={{
              displayName: model.displayName,
              inputPerMTok: asText(model.prices.inputPerMTok),
              outputPerMTok: asText(model.prices.outputPerMTok),
              perImage: asText(model.prices.perImage),
              priceSource: model.priceSource ?? '',
            }}
            onFinish={(v) => void submit(v)}
          >
            <Form.Item
              name="displayName"
              label={t('admin.models.displayName')}
              rules={[{ required: true, whitespace: true, message: t('validation.required') }, { max: 128 }]}
            >
              <Input maxLength={128} />
            </Form.Item>
            <Flex gap={12} wrap>
              <Form.Item
                name="inputPerMTok"
                label={`${t('admin.models.input')} (${t('admin.models.perMTok')})`}
                rules={[priceRule]}
                style={{ flex: '1 1 180px' }}
              >
                <Input prefix="¥" inputMode="decimal" autoComplete="off" />
              </Form.Item>
              <Form.Item
                name="outputPerMTok"
                label={`${t('admin.models.output')} (${t('admin.models.perMTok')})`}
                rules={[priceRule]}
                style={{ flex: '1 1 180px' }}
              >
                <Input prefix="¥" inputMode="decimal" autoComplete="off" />
              </Form.Item>
            </Flex>
            <Form.Item
              name="perImage"
              label={`${t('admin.models.image')} (${t('admin.models.perImageUnit')})`}
              rules={[priceRule]}
              extra={t('admin.models.priceHint')}
            >
              <Input prefix="¥" inputMode="decimal" autoComplete="off" style={{ maxWidth: 240 }} />
            </Form.Item>
            <Form.Item name="priceSource" label={t('admin.models.priceSource')} rules={[{ max: 255 }]}>
              <Input maxLength={255} placeholder={t('admin.models.priceSourcePlaceholder')} />
            </Form.Item>
          </Form>
        </Flex>
      )}
    </Modal>
  )
}
