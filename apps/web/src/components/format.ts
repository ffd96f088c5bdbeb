/** Dates in the UI language; the API speaks ISO-8601 UTC and the browser shows local time. */
export function formatDateTime(iso: string, language: string): string {
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return iso
  return new Intl.DateTimeFormat(language, { dateStyle: 'medium', timeStyle: 'short' }).format(date)
}

export function formatDate(iso: string, language: string): string {
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return iso
  return new Intl.DateTimeFormat(language, { dateStyle: 'long' }).format(date)
}

const STEPS: Array<[Intl.RelativeTimeFormatUnit, number]> = [
  ['second', 60],
  ['minute', 60],
  ['hour', 24],
  ['day', 30],
  ['month', 12],
  ['year', Number.POSITIVE_INFINITY],
]

/** "3 minutes ago" / "3 分钟前"; `now` is passed in so a list renders against one clock. */
export function formatRelative(iso: string, language: string, now = Date.now()): string {
  const then = new Date(iso).getTime()
  if (Number.isNaN(then)) return iso
  let value = (then - now) / 1000
  const rtf = new Intl.RelativeTimeFormat(language, { numeric: 'auto' })
  for (const [unit, size] of STEPS) {
    if (Math.abs(value) < size) return rtf.format(Math.round(value), unit)
    value /= size
  }
  return rtf.format(Math.round(value), 'year')
}

/**
 * An email address cut where a line may break: after its (last) "@", so "someone@" ends one line
 * and "example.com" starts the next. Something without an "@", or with nothing after it, stays whole.
 */
export function emailLines(email: string): [string, string] {
  const at = email.lastIndexOf('@')
  return at < 0 || at === email.length - 1 ? [email, ''] : [email.slice(0, at + 1), email.slice(at + 1)]
}
