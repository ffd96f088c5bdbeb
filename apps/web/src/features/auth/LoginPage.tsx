import { LockOutlined, UserOutlined } from '@ant-design/icons'
import type { LoginBody } from '@qiao/shared'
import { useMutation } from '@tanstack/react-query'
import { Alert, Button, Flex, Form, Input, Typography } from 'antd'
import { useTranslation } from 'react-i18next'
import { Link, useLocation } from 'react-router-dom'
import { login, useSession } from '../../api/session'
import { ErrorAlert } from '../../components/ErrorAlert'
import { usePageTitle } from '../../components/usePageTitle'
import { AuthLayout } from './AuthLayout'

export function LoginPage() {
  const { t } = useTranslation()
  const [form] = Form.useForm<LoginBody>()
  const location = useLocation()
  const endedBy = useSession((s) => s.endedBy)
  usePageTitle(t('auth.loginTitle'))

  // On success the session store flips to signed-in and the router leaves this page by itself.
  const mutation = useMutation({
    mutationFn: (body: LoginBody) => login({ login: body.login.trim(), password: body.password }),
  })

  return (
    <AuthLayout title={t('auth.loginTitle')} subtitle={t('auth.loginSubtitle')}>
      <Flex vertical gap={16}>
        {endedBy && !mutation.error && (
          <Alert
            type="warning"
            showIcon
            title={
              endedBy === 'AUTH_TOKEN_REUSED' || endedBy === 'ACCOUNT_DISABLED'
                ? t(`errors.${endedBy}`)
                : t('auth.sessionExpired')
            }
          />
        )}
        <ErrorAlert error={mutation.error} />
        <Form
          form={form}
          layout="vertical"
          requiredMark={false}
          disabled={mutation.isPending}
          onFinish={(values) => mutation.mutate(values)}
          onValuesChange={() => mutation.error && mutation.reset()}
        >
          <Form.Item
            name="login"
            label={t('auth.loginField')}
            rules={[{ required: true, whitespace: true, message: t('validation.required') }]}
          >
            <Input
              size="large"
              prefix={<UserOutlined />}
              placeholder={t('auth.loginPlaceholder')}
              autoComplete="username"
              autoFocus
              maxLength={254}
            />
          </Form.Item>
          <Form.Item
            name="password"
            label={t('auth.password')}
            rules={[{ required: true, message: t('validation.required') }]}
          >
            <Input.Password
              size="large"
              prefix={<LockOutlined />}
              placeholder={t('auth.passwordPlaceholder')}
              autoComplete="current-password"
            />
          </Form.Item>
          <Button
            type="primary"
            htmlType="submit"
            size="large"
            block
            loading={mutation.isPending}
            data-testid="login-submit"
          >
            {t('auth.loginSubmit')}
          </Button>
        </Form>
        <Typography.Text type="secondary" style={{ textAlign: 'center' }}>
          {t('auth.noAccount')}{' '}
          <Link to="/register" state={location.state as unknown}>
            {t('auth.toRegister')}
          </Link>
        </Typography.Text>
      </Flex>
    </AuthLayout>
  )
}
