import type { EChartsCoreOption } from 'echarts/core'

/**
 * Option builders for the few chart shapes the app uses. Colours and fonts are left to the theme
 * EChart applies; these only say what is plotted. Pure functions, so pages memoise them cheaply.
 */

export interface DaySeries {
  name: string
  /** One value per category, in order; null leaves a gap. */
  data: Array<number | null>
  kind: 'bar' | 'line'
  /** Bars with the same stack name pile up (input + output tokens). */
  stack?: string
}

export interface CategoryChartInput {
  categories: string[]
  series: DaySeries[]
  /** Axis labels and tooltip values (money, token counts). */
  format?: (value: number) => string
  /** Horizontal bars (long names such as users or models). */
  horizontal?: boolean
}

export function categoryOption({
  categories,
  series,
  format,
  horizontal = false,
}: CategoryChartInput): EChartsCoreOption {
  const categoryAxis = {
    type: 'category',
    data: categories,
    axisTick: { alignWithLabel: true },
    // Long names (emails) are cut short on the axis; the tooltip shows them whole.
    ...(horizontal ? { axisLabel: { width: 110, overflow: 'truncate' } } : {}),
  }
  const valueAxis = {
    type: 'value',
    // Money ticks are wide: on a narrow chart, drop the ones that would overlap.
    axisLabel: { hideOverlap: true, ...(format ? { formatter: format } : {}) },
    minInterval: format ? 0 : 1,
    // A horizontal value axis is short: few ticks, so money labels do not run into each other.
    ...(horizontal ? { splitNumber: 3 } : {}),
  }
  return {
    grid: { left: 8, right: 16, top: series.length > 1 ? 36 : 16, bottom: 8, containLabel: true },
    legend: series.length > 1 ? { top: 0 } : { show: false },
    tooltip: {
      trigger: 'axis',
      axisPointer: { type: horizontal ? 'shadow' : 'line' },
      ...(format ? { valueFormatter: (v: unknown) => (typeof v === 'number' ? format(v) : '—') } : {}),
    },
    xAxis: horizontal ? valueAxis : categoryAxis,
    yAxis: horizontal ? { ...categoryAxis, inverse: true } : valueAxis,
    series: series.map((s) => ({
      name: s.name,
      type: s.kind,
      data: s.data,
      ...(s.stack ? { stack: s.stack } : {}),
      ...(s.kind === 'line'
        ? { smooth: true, showSymbol: categories.length <= 31, connectNulls: false, areaStyle: { opacity: 0.08 } }
        : {}),
      ...(s.kind === 'bar' ? { barMaxWidth: 28 } : {}),
    })),
  }
}

export interface PieInput {
  items: Array<{ name: string; value: number }>
  format?: (value: number) => string
  /** Show at most this many slices; the rest add up to one "other" slice. */
  maxSlices?: number
  otherLabel?: string
}

export function pieOption({ items, format, maxSlices = 8, otherLabel = 'Other' }: PieInput): EChartsCoreOption {
  const sorted = [...items].filter((i) => i.value > 0).sort((a, b) => b.value - a.value)
  const shown = sorted.slice(0, maxSlices)
  const rest = sorted.slice(maxSlices).reduce((sum, i) => sum + i.value, 0)
  if (rest > 0) shown.push({ name: otherLabel, value: rest })
  return {
    tooltip: {
      trigger: 'item',
      valueFormatter: (v: unknown) => (typeof v === 'number' ? (format ? format(v) : String(v)) : '—'),
    },
    legend: { type: 'scroll', bottom: 0 },
    series: [
      {
        type: 'pie',
        radius: ['38%', '62%'],
        center: ['50%', '45%'],
        avoidLabelOverlap: true,
        itemStyle: { borderRadius: 4 },
        // Only the share on the slice; names are in the legend, so nothing needs truncating.
        label: { formatter: '{d}%', overflow: 'none' },
        data: shown,
      },
    ],
  }
}
