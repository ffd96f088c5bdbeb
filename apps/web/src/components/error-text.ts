import type { TFunction } from 'i18next'
import { ApiError } from '../api/client'

/** How long to wait, in words the user reads: seconds under two minutes, minutes after. */
export function waitText(t: TFunction, seconds: number): string {
  return seconds < 120
    ? t('time.seconds', { count: Math.ceil(seconds) })
    : t('time.minutes', { count: Math.ceil(seconds / 60) })
}

/**
 * A message a person understands for any failure. Server codes map to translated text (the
 * server's own English message is for logs and API clients); anything else is "unexpected".
 */
export function errorText(t: TFunction, err: unknown): string {
  if (!(err instanceof ApiError)) return t('errors.UNKNOWN')
  if (err.code === 'TOO_MANY_ATTEMPTS' && err.extra.retryAfter) {
    return t('errors.TOO_MANY_ATTEMPTS_WAIT', { wait: waitText(t, err.extra.retryAfter) })
  }
  return t(`errors.${err.code}`)
}
