import { Alert, Typography } from 'antd'
import { useTranslation } from 'react-i18next'
import { ApiError } from '../api/client'
import { errorText } from './error-text'

/** A failed request, explained; the request id helps support find the matching log line. */
export function ErrorAlert({ error, onClose }: { error: unknown; onClose?: () => void }) {
  const { t } = useTranslation()
  if (!error) return null
  const requestId = error instanceof ApiError ? error.requestId : undefined
  return (
    <Alert
      type="error"
      showIcon
      role="alert"
      title={errorText(t, error)}
      description={
        requestId ? (
          <Typography.Text type="secondary" style={{ fontSize: 12 }} copyable={{ text: requestId }}>
            {t('errors.requestId', { id: requestId })}
          </Typography.Text>
        ) : undefined
      }
      {...(onClose ? { closable: { onClose } } : {})}
    />
  )
}
