import { Button, Flex, Result, Spin } from 'antd'
import { useTranslation } from 'react-i18next'
import { LogoMark } from './Logo'

/** Shown while the session is being restored, so the login page never flashes for a signed-in user. */
export function FullPageSpinner() {
  const { t } = useTranslation()
  return (
    <Flex
      vertical
      align="center"
      justify="center"
      gap={24}
      style={{ minHeight: '100dvh' }}
      role="status"
      aria-live="polite"
    >
      <LogoMark size={56} />
      <Spin description={t('app.restoring')} />
    </Flex>
  )
}

/** The server could not be reached while restoring the session. */
export function UnreachablePage({ onRetry }: { onRetry: () => void }) {
  const { t } = useTranslation()
  return (
    <Flex align="center" justify="center" style={{ minHeight: '100dvh', padding: 16 }}>
      <Result
        status="warning"
        title={t('app.restoreFailed')}
        subTitle={t('app.restoreFailedHint')}
        extra={
          <Button type="primary" onClick={onRetry} autoFocus>
            {t('app.retry')}
          </Button>
        }
      />
    </Flex>
  )
}
