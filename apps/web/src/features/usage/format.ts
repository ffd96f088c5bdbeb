import type { Dayjs } from 'dayjs'
import { useMemo } from 'react'
import { useTranslation } from 'react-i18next'

export type DayRange = [Dayjs, Dayjs]

/** Local calendar days → the API's instants: from the first day's midnight to the day after the last (exclusive). */
export function rangeFilters(range: DayRange | null): { from?: string; to?: string } {
  if (!range) return {}
  return { from: range[0].startOf('day').toISOString(), to: range[1].add(1, 'day').startOf('day').toISOString() }
}

/** Grouped integers in the UI language ("12,345"), one formatter per language. */
export function useNumberFormat(): (n: number) => string {
  const { i18n } = useTranslation()
  return useMemo(() => {
    const nf = new Intl.NumberFormat(i18n.language)
    return (n: number) => nf.format(n)
  }, [i18n.language])
}
