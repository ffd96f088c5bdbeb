import type { PlatformSettings, RateLimits, UpdateSettingsBody } from '@qiao/shared'
import { MAX_MONEY } from '@qiao/shared'
import { App, Button, Card, Col, Flex, Form, Input, InputNumber, Row, Skeleton, Switch, Typography } from 'antd'
import { useState } from 'react'
import { useTranslation } from 'react-i18next'
import { ErrorAlert } from '../../components/ErrorAlert'
import { microToYuanString, parseYuan } from '../billing/money'
import { useSettings, useUpdateSettings } from './admin-api'

/** Limits as the form shows them, with the bounds the server enforces (packages/shared/settings.ts). */
const LIMIT_FIELDS: Array<{ key: keyof RateLimits; max: number }> = [
  { key: 'userRpm', max: 100_000 },
  { key: 'userTpm', max: 100_000_000 },
  { key: 'keyRpm', max: 100_000 },
  { key: 'keyTpm', max: 100_000_000 },
  { key: 'modelRpm', max: 1_000_000 },
  { key: 'authPerMinute', max: 100_000 },
  { key: 'maxConcurrentStreams', max: 1_000 },
]

interface SettingsForm {
  registrationOpen: boolean
  defaultBalance: string
  rateLimits: RateLimits
  logRetentionDays: number
}

/** Platform settings: registration, the new-account balance, rate limits, call-log retention. */
export function SettingsTab() {
  const settings = useSettings()
  if (settings.error) return <ErrorAlert error={settings.error} />
  if (!settings.data) return <Skeleton active paragraph={{ rows: 10 }} />
  // Re-mount the form when the saved settings change, so it always starts from what the server holds.
  return <SettingsEditor key={JSON.stringify(settings.data)} current={settings.data} />
}

function SettingsEditor({ current }: { current: PlatformSettings }) {
  const { t } = useTranslation()
  const { message } = App.useApp()
  const [form] = Form.useForm<SettingsForm>()
  const save = useUpdateSettings()
  const [error, setError] = useState<unknown>(null)

  const submit = async (values: SettingsForm) => {
    const defaultBalance = parseYuan(values.defaultBalance, MAX_MONEY)
    if (defaultBalance === null) return
    // Only what changed: the audit log then records exactly what this admin did.
    const body: UpdateSettingsBody = {}
    if (values.registrationOpen !== current.registrationOpen) body.registrationOpen = values.registrationOpen
    if (defaultBalance !== current.defaultBalance) body.defaultBalance = defaultBalance
    if (values.logRetentionDays !== current.logRetentionDays) body.logRetentionDays = values.logRetentionDays
    const limits: Partial<RateLimits> = {}
    for (const { key } of LIMIT_FIELDS) {
      if (values.rateLimits[key] !== current.rateLimits[key]) limits[key] = values.rateLimits[key]
    }
    if (Object.keys(limits).length) body.rateLimits = limits
    if (!Object.keys(body).length) {
      void message.info(t('admin.settings.unchanged'))
      return
    }
    setError(null)
    try {
      await save.mutateAsync(body)
      void message.success(t('admin.saved'))
    } catch (err) {
      setError(err)
    }
  }

  return (
    <Form<SettingsForm>
      form={form}
      layout="vertical"
      requiredMark={false}
      initialValues={{ ...current, defaultBalance: microToYuanString(current.defaultBalance) }}
      onFinish={(v) => void submit(v)}
      style={{ maxWidth: 900 }}
      data-testid="settings-form"
    >
      <Flex vertical gap={16}>
        <ErrorAlert error={error} />
        <Card size="small" title={t('admin.settings.accounts')}>
          <Row gutter={16}>
            <Col xs={24} md={12}>
              <Form.Item
                name="registrationOpen"
                label={t('admin.settings.registrationOpen')}
                valuePropName="checked"
                extra={t('admin.settings.registrationHint')}
              >
                <Switch />
              </Form.Item>
            </Col>
            <Col xs={24} md={12}>
              <Form.Item
                name="defaultBalance"
                label={t('admin.settings.defaultBalance')}
                extra={t('admin.settings.defaultBalanceHint')}
                rules={[
                  {
                    validator: (_, value: string) => {
                      const micro = parseYuan(value ?? '', MAX_MONEY)
                      return micro !== null && micro >= 0
                        ? Promise.resolve()
                        : Promise.reject(new Error(t('admin.invalidAmount')))
                    },
                  },
                ]}
              >
                <Input prefix="¥" inputMode="decimal" autoComplete="off" style={{ maxWidth: 220 }} />
              </Form.Item>
            </Col>
          </Row>
        </Card>
        <Card size="small" title={t('admin.settings.rateLimits')}>
          <Typography.Paragraph type="secondary">{t('admin.settings.rateLimitsHint')}</Typography.Paragraph>
          <Row gutter={16}>
            {LIMIT_FIELDS.map(({ key, max }) => (
              <Col key={key} xs={24} sm={12} md={8}>
                <Form.Item
                  name={['rateLimits', key]}
                  label={t(`admin.settings.limits.${key}`)}
                  rules={[{ required: true, message: t('validation.required') }]}
                >
                  <InputNumber min={1} max={max} precision={0} style={{ width: '100%' }} />
                </Form.Item>
              </Col>
            ))}
          </Row>
        </Card>
        <Card size="small" title={t('admin.settings.retention')}>
          <Form.Item
            name="logRetentionDays"
            label={t('admin.settings.logRetentionDays')}
            extra={t('admin.settings.retentionHint')}
            rules={[{ required: true, message: t('validation.required') }]}
          >
            <InputNumber min={1} max={3650} precision={0} suffix={t('admin.settings.days')} style={{ width: 180 }} />
          </Form.Item>
        </Card>
        <Flex gap={8}>
          <Button type="primary" htmlType="submit" loading={save.isPending} data-testid="settings-save">
            {t('admin.save')}
          </Button>
          <Button onClick={() => form.resetFields()}>{t('admin.reset')}</Button>
        </Flex>
      </Flex>
    </Form>
  )
}
