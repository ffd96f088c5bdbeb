import { LockOutlined, MailOutlined, SmileOutlined, UserOutlined } from '@ant-design/icons'
import { PASSWORD_MAX, PASSWORD_MIN, type RegisterBody } from '@qiao/shared'
import { useMutation } from '@tanstack/react-query'
import { Button, Flex, Form, Input, Typography } from 'antd'
import { useTranslation } from 'react-i18next'
import { Link, useLocation } from 'react-router-dom'
import { register } from '../../api/session'
import { ErrorAlert } from '../../components/ErrorAlert'
import { usePageTitle } from '../../components/usePageTitle'
import { AuthLayout } from './AuthLayout'
import { showOnField } from './auth-errors'

/** Mirrors RegisterBodySchema's username rule so the form can say what is wrong before sending. */
const USERNAME_RE = /^[a-zA-Z0-9_][a-zA-Z0-9_.-]{2,31}$/

interface RegisterForm {
  email: string
  password: string
  username?: string
  displayName?: string
}

/** Server codes that belong to one field; everything else shows above the form. */
const FIELD_OF_CODE = {
  EMAIL_TAKEN: 'email',
  USERNAME_TAKEN: 'username',
  PASSWORD_TOO_SHORT: 'password',
  PASSWORD_TOO_LONG: 'password',
  PASSWORD_BREACHED: 'password',
}

/** Passwords are measured in code points, as the server does, so an emoji counts once. */
const passwordLength = (value: string) => [...value].length

export function RegisterPage() {
  const { t } = useTranslation()
  const [form] = Form.useForm<RegisterForm>()
  const location = useLocation()
  usePageTitle(t('auth.registerTitle'))

  const mutation = useMutation({
    mutationFn: (values: RegisterForm) => {
      // Optional fields are left out rather than sent empty: the server validates what it gets.
      const body: RegisterBody = { email: values.email.trim(), password: values.password }
      const username = values.username?.trim()
      const displayName = values.displayName?.trim()
      if (username) body.username = username
      if (displayName) body.displayName = displayName
      return register(body)
    },
    onError: (err) => {
      if (showOnField(form, t, err, FIELD_OF_CODE)) mutation.reset()
    },
  })

  return (
    <AuthLayout title={t('auth.registerTitle')} subtitle={t('auth.registerSubtitle')}>
      <Flex vertical gap={16}>
        <ErrorAlert error={mutation.error} />
        <Form
          form={form}
          layout="vertical"
          requiredMark={false}
          disabled={mutation.isPending}
          onFinish={(values) => mutation.mutate(values)}
        >
          <Form.Item
            name="email"
            label={t('auth.email')}
            rules={[
              { required: true, whitespace: true, message: t('validation.required') },
              { type: 'email', message: t('validation.email') },
            ]}
          >
            <Input
              size="large"
              prefix={<MailOutlined />}
              placeholder={t('auth.emailPlaceholder')}
              autoComplete="email"
              inputMode="email"
              autoFocus
              maxLength={254}
            />
          </Form.Item>
          <Form.Item
            name="password"
            label={t('auth.password')}
            extra={t('auth.passwordRules')}
            rules={[
              { required: true, message: t('validation.required') },
              {
                validator: (_rule, value: string | undefined) => {
                  if (!value) return Promise.resolve()
                  if (passwordLength(value) < PASSWORD_MIN)
                    return Promise.reject(new Error(t('validation.passwordTooShort')))
                  if (passwordLength(value) > PASSWORD_MAX)
                    return Promise.reject(new Error(t('validation.passwordTooLong')))
                  return Promise.resolve()
                },
              },
            ]}
          >
            <Input.Password
              size="large"
              prefix={<LockOutlined />}
              placeholder={t('auth.newPasswordPlaceholder')}
              autoComplete="new-password"
            />
          </Form.Item>
          <Form.Item
            name="username"
            label={t('auth.username')}
            extra={t('auth.usernameHint')}
            rules={[{ pattern: USERNAME_RE, message: t('validation.username') }]}
          >
            <Input
              size="large"
              prefix={<UserOutlined />}
              placeholder={t('auth.usernamePlaceholder')}
              autoComplete="username"
              maxLength={32}
            />
          </Form.Item>
          <Form.Item
            name="displayName"
            label={t('auth.displayName')}
            rules={[{ max: 64, message: t('validation.displayNameTooLong') }]}
          >
            <Input
              size="large"
              prefix={<SmileOutlined />}
              placeholder={t('auth.displayNamePlaceholder')}
              autoComplete="nickname"
              maxLength={64}
            />
          </Form.Item>
          <Button
            type="primary"
            htmlType="submit"
            size="large"
            block
            loading={mutation.isPending}
            data-testid="register-submit"
          >
            {t('auth.registerSubmit')}
          </Button>
        </Form>
        <Typography.Text type="secondary" style={{ textAlign: 'center' }}>
          {t('auth.haveAccount')}{' '}
          <Link to="/login" state={location.state as unknown}>
            {t('auth.toLogin')}
          </Link>
        </Typography.Text>
      </Flex>
    </AuthLayout>
  )
}
