import { describe, expect, it } from 'vitest'
import { categoryOption, daysBetween, pieOption } from './options'

describe('daysBetween', () => {
  it('lists every day inclusive, across a month end', () => {
    expect(daysBetween('2026-01-30', '2026-02-02')).toEqual(['2026-01-30', '2026-01-31', '2026-02-01', '2026-02-02'])
  })
  it('is empty for a reversed or unreadable range and capped for a huge one', () => {
    expect(daysBetween('2026-02-02', '2026-01-30')).toEqual([])
    expect(daysBetween('nope', '2026-01-30')).toEqual([])
    expect(daysBetween('2000-01-01', '2026-01-01', 10)).toHaveLength(10)
  })
})

describe('pieOption', () => {
  it('drops empty slices and folds the tail into "other"', () => {
    const option = pieOption({
      items: [
        { name: 'a', value: 5 },
        { name: 'b', value: 0 },
        { name: 'c', value: 9 },
        { name: 'd', value: 1 },
        { name: 'e', value: 2 },
      ],
      maxSlices: 2,
      otherLabel: 'rest',
    }) as { series: Array<{ data: unknown }> }
    expect(option.series[0]!.data).toEqual([
      { name: 'c', value: 9 },
      { name: 'a', value: 5 },
      { name: 'rest', value: 3 },
    ])
  })
})

describe('categoryOption', () => {
  it('puts categories on the value axis’s partner and keeps series order', () => {
    const option = categoryOption({
      categories: ['x', 'y'],
      series: [
        { name: 'in', data: [1, 2], kind: 'bar', stack: 't' },
        { name: 'out', data: [3, null], kind: 'bar', stack: 't' },
      ],
      horizontal: true,
    }) as { yAxis: { data: string[] }; series: Array<{ name: string; stack?: string }> }
    expect(option.yAxis.data).toEqual(['x', 'y'])
    expect(option.series.map((s) => [s.name, s.stack])).toEqual([
      ['in', 't'],
      ['out', 't'],
    ])
  })
})
