import type { Dayjs } from 'dayjs'
import { useMemo } from 'react'
import { useTranslation } from 'react-i18next'

export type DayRange = [Dayjs, Dayjs]

/** The picked days as the API's bare dates (both inclusive; the server counts days in UTC). */
export function rangeFilters(range: DayRange | null): { from?: string; to?: string } {
  if (!range) return {}
  return { from: range[0].format('YYYY-MM-DD'), to: range[1].format('YYYY-MM-DD') }
}

/** Grouped integers in the UI language ("12,345"), one formatter per language. */
export function useNumberFormat(): (n: number) => string {
  const { i18n } = useTranslation()
  return useMemo(() => {
    const nf = new Intl.NumberFormat(i18n.language)
    return (n: number) => nf.format(n)
  }, [i18n.language])
}
