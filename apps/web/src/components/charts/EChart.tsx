import { Spin, theme, Typography } from 'antd'
import type { EChartsCoreOption, EChartsType } from 'echarts/core'
import { useEffect, useMemo, useRef, useState } from 'react'
import { useTranslation } from 'react-i18next'
import { useIsDark } from '../../app/theme'

/** Series colours: the brand indigo first, then hues that stay apart on white and on near-black. */
const LIGHT_PALETTE = ['#4f46e5', '#0d9488', '#d97706', '#dc2626', '#7c3aed', '#0284c7', '#65a30d', '#db2777']
const DARK_PALETTE = ['#8b87f5', '#2dd4bf', '#fbbf24', '#f87171', '#a78bfa', '#38bdf8', '#a3e635', '#f472b6']

export interface EChartProps {
  /** A complete ECharts option; colours and fonts come from the theme, so leave them out. */
  option: EChartsCoreOption
  /** What the chart shows, for screen readers (the canvas itself says nothing). */
  label: string
  height?: number
  testId?: string
}

/**
 * One ECharts canvas. ECharts is loaded on first use (its own chunk), follows the antd theme
 * (re-created when light/dark changes), and resizes with its container.
 */
export function EChart({ option, label, height = 300, testId }: EChartProps) {
  const { t } = useTranslation()
  const { token } = theme.useToken()
  const dark = useIsDark()
  const host = useRef<HTMLDivElement>(null)
  const [chart, setChart] = useState<EChartsType | null>(null)
  const [failed, setFailed] = useState(false)

  // Primitive dependencies only: a token object that is equal but not identical must not re-create the chart.
  const {
    colorTextSecondary,
    colorText,
    colorBorderSecondary,
    colorBorder,
    colorBgElevated,
    colorBgContainer,
    fontFamily,
  } = token
  const chartTheme = useMemo(() => {
    const axis = {
      axisLine: { lineStyle: { color: colorBorder } },
      axisTick: { lineStyle: { color: colorBorder } },
      axisLabel: { color: colorTextSecondary },
      splitLine: { lineStyle: { color: colorBorderSecondary } },
    }
    return {
      color: dark ? DARK_PALETTE : LIGHT_PALETTE,
      backgroundColor: 'transparent',
      textStyle: { color: colorTextSecondary, fontFamily },
      title: { textStyle: { color: colorText } },
      legend: { textStyle: { color: colorTextSecondary } },
      tooltip: {
        backgroundColor: colorBgElevated,
        borderColor: colorBorderSecondary,
        textStyle: { color: colorText },
      },
      // Slice labels in the text colour without a halo; a gap in the page colour between slices.
      pie: {
        label: { color: colorTextSecondary, textBorderWidth: 0 },
        itemStyle: { borderColor: colorBgContainer, borderWidth: 2 },
      },
      categoryAxis: axis,
      valueAxis: axis,
      timeAxis: axis,
    }
  }, [
    dark,
    colorTextSecondary,
    colorText,
    colorBorderSecondary,
    colorBorder,
    colorBgElevated,
    colorBgContainer,
    fontFamily,
  ])

  useEffect(() => {
    let instance: EChartsType | undefined
    let observer: ResizeObserver | undefined
    let cancelled = false
    import('./echarts')
      .then(({ echarts }) => {
        const el = host.current
        if (cancelled || !el) return
        instance = echarts.init(el, chartTheme, { renderer: 'canvas' })
        // Tells tests and screenshots when the drawing (animation included) is complete.
        instance.on('finished', () => el.setAttribute('data-chart-state', 'finished'))
        observer = new ResizeObserver(() => instance?.resize())
        observer.observe(el)
        setChart(instance)
      })
      .catch(() => {
        if (!cancelled) setFailed(true)
      })
    return () => {
      cancelled = true
      observer?.disconnect()
      instance?.dispose()
      setChart(null)
    }
  }, [chartTheme])

  useEffect(() => {
    // notMerge: a filter change can remove series, which a merge would leave behind.
    if (!chart) return
    host.current?.setAttribute('data-chart-state', 'drawing')
    chart.setOption(option, { notMerge: true })
  }, [chart, option])

  return (
    <div style={{ position: 'relative', width: '100%', height }} data-testid={testId}>
      <div ref={host} role="img" aria-label={label} style={{ width: '100%', height: '100%' }} />
      {!chart && (
        <div style={{ position: 'absolute', inset: 0, display: 'grid', placeItems: 'center' }}>
          {failed ? <Typography.Text type="secondary">{t('app.loadFailed')}</Typography.Text> : <Spin />}
        </div>
      )}
    </div>
  )
}
