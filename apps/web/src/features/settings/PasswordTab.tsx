import { PASSWORD_MAX, PASSWORD_MIN, type ChangePasswordBody } from '@qiao/shared'
import { useMutation, useQueryClient } from '@tanstack/react-query'
import { App, Button, Form, Input, Typography } from 'antd'
import { useTranslation } from 'react-i18next'
import { api, ApiError } from '../../api/client'
import { ErrorAlert } from '../../components/ErrorAlert'
import { errorText } from '../../components/error-text'

interface PasswordForm {
  currentPassword: string
  newPassword: string
  confirm: string
}

const NEW_PASSWORD_CODES = new Set(['PASSWORD_TOO_SHORT', 'PASSWORD_TOO_LONG', 'PASSWORD_BREACHED'])

export function PasswordTab() {
  const { t } = useTranslation()
  const { message } = App.useApp()
  const queryClient = useQueryClient()
  const [form] = Form.useForm<PasswordForm>()

  const mutation = useMutation({
    mutationFn: (body: ChangePasswordBody) => api.post<unknown>('/api/me/password', body),
    onSuccess: () => {
      form.resetFields()
      void message.success(t('settings.passwordChanged'))
      // The server signed the other devices out; the device list must say so.
      void queryClient.invalidateQueries({ queryKey: ['sessions'] })
    },
    onError: (err) => {
      // Field-level when we know which field is wrong; the alert handles everything else.
      if (!(err instanceof ApiError)) return
      if (err.code === 'AUTH_INVALID_CREDENTIALS') {
        form.setFields([{ name: 'currentPassword', errors: [errorText(t, err)] }])
        mutation.reset()
      } else if (NEW_PASSWORD_CODES.has(err.code)) {
        form.setFields([{ name: 'newPassword', errors: [errorText(t, err)] }])
        mutation.reset()
      }
    },
  })

  return (
    <Form
      form={form}
      layout="vertical"
      requiredMark={false}
      style={{ maxWidth: 420 }}
      onFinish={({ currentPassword, newPassword }) => mutation.mutate({ currentPassword, newPassword })}
    >
      {/* Lets password managers file the new password under the right account. */}
      <input type="text" name="username" autoComplete="username" hidden readOnly />
      <ErrorAlert error={mutation.error} />
      <Form.Item
        name="currentPassword"
        label={t('settings.currentPassword')}
        rules={[{ required: true, message: t('validation.required') }]}
        style={{ marginTop: mutation.error ? 16 : 0 }}
      >
        <Input.Password autoComplete="current-password" />
      </Form.Item>
      <Form.Item
        name="newPassword"
        label={t('settings.newPassword')}
        extra={t('auth.passwordRules')}
        dependencies={['currentPassword']}
        rules={[
          { required: true, message: t('validation.required') },
          ({ getFieldValue }) => ({
            validator: (_rule, value: string | undefined) => {
              if (!value) return Promise.resolve()
              const length = [...value].length
              if (length < PASSWORD_MIN) return Promise.reject(new Error(t('validation.passwordTooShort')))
              if (length > PASSWORD_MAX) return Promise.reject(new Error(t('validation.passwordTooLong')))
              if (value === getFieldValue('currentPassword'))
                return Promise.reject(new Error(t('validation.passwordSame')))
              return Promise.resolve()
            },
          }),
        ]}
      >
        <Input.Password autoComplete="new-password" />
      </Form.Item>
      <Form.Item
        name="confirm"
        label={t('settings.confirmPassword')}
        dependencies={['newPassword']}
        rules={[
          { required: true, message: t('validation.required') },
          ({ getFieldValue }) => ({
            validator: (_rule, value: string | undefined) =>
              !value || value === getFieldValue('newPassword')
                ? Promise.resolve()
                : Promise.reject(new Error(t('validation.passwordMismatch'))),
          }),
        ]}
      >
        <Input.Password autoComplete="new-password" />
      </Form.Item>
      <Button type="primary" htmlType="submit" loading={mutation.isPending}>
        {t('settings.changePassword')}
      </Button>
      <Typography.Paragraph type="secondary" style={{ marginTop: 16, marginBottom: 0 }}>
        {t('settings.passwordHint')}
      </Typography.Paragraph>
    </Form>
  )
}
