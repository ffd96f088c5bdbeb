import { describe, expect, it } from 'vitest'
import { emailLines, formatRelative } from './format'

describe('formatRelative', () => {
  const now = Date.parse('2026-01-10T12:00:00Z')
  it('picks the largest whole unit, in the UI language', () => {
    expect(formatRelative('2026-01-10T11:59:30Z', 'en', now)).toBe('30 seconds ago')
    expect(formatRelative('2026-01-10T11:55:00Z', 'en', now)).toBe('5 minutes ago')
    expect(formatRelative('2026-01-10T09:00:00Z', 'en', now)).toBe('3 hours ago')
    expect(formatRelative('2026-01-09T12:00:00Z', 'en', now)).toBe('yesterday')
    expect(formatRelative('2026-01-10T11:55:00Z', 'zh-CN', now)).toBe('5分钟前')
  })
  it('shows an unreadable timestamp as it came', () => {
    expect(formatRelative('not a date', 'en', now)).toBe('not a date')
  })
})

describe('emailLines', () => {
  it('breaks after the @, keeping it on the first line', () => {
    expect(emailLines('someone@example.com')).toEqual(['someone@', 'example.com'])
  })
  it('uses the last @ of a quoted local part', () => {
    expect(emailLines('"a@b"@example.com')).toEqual(['"a@b"@', 'example.com'])
  })
  it('leaves text without a domain whole', () => {
    expect(emailLines('admin')).toEqual(['admin', ''])
    expect(emailLines('admin@')).toEqual(['admin@', ''])
  })
})
