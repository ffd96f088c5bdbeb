import type { UpdateMeBody, User } from '@qiao/shared'
import { useMutation } from '@tanstack/react-query'
import { App, Button, Descriptions, Flex, Form, Input, Tag, Typography } from 'antd'
import { useTranslation } from 'react-i18next'
import { api } from '../../api/client'
import { setUser, useSession } from '../../api/session'
import { EmailText } from '../../components/EmailText'
import { ErrorAlert } from '../../components/ErrorAlert'
import { formatDate } from '../../components/format'

export function ProfileTab() {
  const { t, i18n } = useTranslation()
  const { message } = App.useApp()
  const user = useSession((s) => s.user)
  const [form] = Form.useForm<{ displayName: string }>()

  const mutation = useMutation({
    mutationFn: (body: UpdateMeBody) => api.patch<User>('/api/me', body),
    onSuccess: (updated) => {
      setUser(updated)
      form.setFieldsValue({ displayName: updated.displayName ?? '' })
      void message.success(t('settings.saved'))
    },
  })

  if (!user) return null
  const notSet = <Typography.Text type="secondary">{t('settings.notSet')}</Typography.Text>

  return (
    <Flex vertical gap={24}>
      <Descriptions column={1} size="small" styles={{ label: { width: 120 } }}>
        <Descriptions.Item label={t('settings.email')}>
          <EmailText email={user.email} copyable />
        </Descriptions.Item>
        <Descriptions.Item label={t('settings.username')}>{user.username ?? notSet}</Descriptions.Item>
        <Descriptions.Item label={t('settings.role')}>
          {user.role === 'admin' ? <Tag color="gold">{t('settings.roleAdmin')}</Tag> : t('settings.roleUser')}
        </Descriptions.Item>
        <Descriptions.Item label={t('settings.memberSince')}>
          {formatDate(user.createdAt, i18n.language)}
        </Descriptions.Item>
      </Descriptions>

      <Form
        form={form}
        layout="vertical"
        requiredMark={false}
        initialValues={{ displayName: user.displayName ?? '' }}
        onFinish={({ displayName }) => mutation.mutate({ displayName: displayName.trim() || null })}
        style={{ maxWidth: 420 }}
      >
        <ErrorAlert error={mutation.error} />
        <Form.Item
          name="displayName"
          label={t('settings.displayName')}
          rules={[{ max: 64, message: t('validation.displayNameTooLong') }]}
          style={{ marginTop: mutation.error ? 16 : 0 }}
        >
          <Input placeholder={t('settings.displayNamePlaceholder')} autoComplete="nickname" maxLength={64} allowClear />
        </Form.Item>
        <Button type="primary" htmlType="submit" loading={mutation.isPending}>
          {t('settings.save')}
        </Button>
      </Form>
    </Flex>
  )
}
