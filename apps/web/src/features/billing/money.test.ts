import { describe, expect, it } from 'vitest'
import { formatYuan, microToYuanString, parseYuan } from './money'

describe('formatYuan', () => {
  it('shows two decimals for whole-cent amounts, with thousands separators', () => {
    expect(formatYuan(0)).toBe('¥0.00')
    expect(formatYuan(10_000_000)).toBe('¥10.00')
    expect(formatYuan(1_234_500_000)).toBe('¥1,234.50')
  })

  it('keeps small costs visible instead of rounding them to zero', () => {
    expect(formatYuan(1_200)).toBe('¥0.0012')
    expect(formatYuan(3)).toBe('¥0.000003')
    expect(formatYuan(123_456)).toBe('¥0.1235')
  })

  it('rounds half away from zero on integers and signs deltas', () => {
    expect(formatYuan(15_000, { maxDecimals: 2 })).toBe('¥0.02')
    expect(formatYuan(-1_200)).toBe('-¥0.0012')
    expect(formatYuan(5_000_000, { sign: true })).toBe('+¥5.00')
    expect(formatYuan(-5_000_000, { sign: true })).toBe('-¥5.00')
  })
})

describe('parseYuan', () => {
  it('converts the typed decimal exactly, with no float drift', () => {
    expect(parseYuan('0.1')).toBe(100_000)
    expect(parseYuan('0.3')).toBe(300_000)
    expect(parseYuan('1.005')).toBe(1_005_000)
    expect(parseYuan('12')).toBe(12_000_000)
    expect(parseYuan(' -2.5 ')).toBe(-2_500_000)
    expect(parseYuan('+0.000001')).toBe(1)
    expect(parseYuan('007.50')).toBe(7_500_000)
    expect(parseYuan('3.')).toBe(3_000_000)
  })

  it('refuses exponents, commas, too many decimals and amounts beyond the limit', () => {
    for (const bad of ['', '1e9', '1,000', '0.0000001', 'abc', '--1', '.5', 'NaN', 'Infinity', '12345678901']) {
      expect(parseYuan(bad), bad).toBeNull()
    }
    expect(parseYuan('1000000', 1_000_000_000_000)).toBe(1_000_000_000_000)
    expect(parseYuan('1000000.000001', 1_000_000_000_000)).toBeNull()
  })

  it('round-trips through microToYuanString', () => {
    for (const micro of [0, 1, 1_200, 100_000, 12_345_678, -9_990_000]) {
      expect(parseYuan(microToYuanString(micro))).toBe(micro)
    }
    expect(microToYuanString(12_500_000)).toBe('12.5')
  })
})
