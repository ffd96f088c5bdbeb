import type { FormInstance } from 'antd'
import type { TFunction } from 'i18next'
import { ApiError } from '../../api/client'
import { errorText } from '../../components/error-text'

/**
 * Puts a server error next to the field it is about (email taken → the email field). Returns
 * false when the error concerns the whole form, which then shows it in an alert.
 */
export function showOnField(
  form: FormInstance,
  t: TFunction,
  err: unknown,
  fields: Partial<Record<string, string>>,
): boolean {
  if (!(err instanceof ApiError)) return false
  const direct = fields[err.code]
  if (direct) {
    form.setFields([{ name: direct, errors: [errorText(t, err)] }])
    return true
  }
  if (err.code === 'VALIDATION_FAILED' && err.extra.details?.length) {
    const known = new Set(Object.values(fields))
    const named = err.extra.details
      .map((d) => d.path.replace(/^\//, '').split('/')[0] ?? '')
      .filter((name) => known.has(name))
    if (named.length) {
      form.setFields([...new Set(named)].map((name) => ({ name, errors: [t('errors.VALIDATION_FAILED')] })))
      return true
    }
  }
  return false
}
