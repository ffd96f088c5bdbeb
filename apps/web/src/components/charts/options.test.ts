import { describe, expect, it } from 'vitest'
import { categoryOption, pieOption } from './options'

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
