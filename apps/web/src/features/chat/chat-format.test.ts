import { EMULATED_SUFFIX, type Conversation } from '@qiao/shared'
import i18next from 'i18next'
import { describe, expect, it } from 'vitest'
import { resources } from '../../i18n'
import { bareModelName, formatYuan, groupConversations, modelLabel, modelPrices } from './chat-format'

const convo = (id: string, updatedAt: string, pinned = false): Conversation => ({
  id,
  title: id,
  model: null,
  systemPrompt: null,
  pinned,
  archived: false,
  createdAt: updatedAt,
  updatedAt,
  lastMessagePreview: null,
})

describe('formatYuan', () => {
  it('shows micro-yuan as yuan with only the decimals needed', () => {
    expect(formatYuan(800_000)).toBe('¥0.8')
    expect(formatYuan(2_000_000)).toBe('¥2')
    expect(formatYuan(123)).toBe('¥0.000123')
    expect(formatYuan(0)).toBe('¥0')
    expect(formatYuan(12_345_678_900)).toBe('¥12345.6789')
  })

  it('lists the prices a model has', () => {
    expect(modelPrices({ prices: { inputPerMTok: 800_000, outputPerMTok: 2_000_000 } })).toEqual({
      input: '¥0.8',
      output: '¥2',
    })
    expect(modelPrices({ prices: { perImage: 140_000 } })).toEqual({ image: '¥0.14' })
  })
})

describe('groupConversations', () => {
  it('puts pinned first, then today, the last 7 days and earlier, keeping order', () => {
    const now = new Date(2026, 0, 10, 15, 0)
    const local = (d: number, h: number) => new Date(2026, 0, d, h).toISOString()
    const groups = groupConversations(
      [
        convo('t1', local(10, 14)),
        convo('p1', local(1, 9), true),
        convo('t2', local(10, 0)),
        convo('w1', local(9, 23)),
        convo('w2', local(3, 1)),
        convo('e1', local(2, 23)),
      ],
      now,
    )
    expect(groups.map((g) => [g.group, g.items.map((c) => c.id)])).toEqual([
      ['pinned', ['p1']],
      ['today', ['t1', 't2']],
      ['week', ['w1', 'w2']],
      ['earlier', ['e1']],
    ])
  })

  it('leaves out empty sections', () => {
    expect(groupConversations([])).toEqual([])
  })
})

describe('emulated model names', () => {
  // /api/models appends EMULATED_SUFFIX to an emulated model's name; admin endpoints send the bare name.
  const served = { displayName: `Qwen-Plus${EMULATED_SUFFIX}`, emulated: true }
  const admin = { displayName: 'Qwen-Plus', emulated: true }
  const real = { displayName: 'Qwen-Plus', emulated: false }

  it('drops the server suffix where a tag labels the model instead', () => {
    expect(bareModelName(served)).toBe('Qwen-Plus')
    expect(bareModelName(admin)).toBe('Qwen-Plus')
    expect(bareModelName(real)).toBe('Qwen-Plus')
    // A real model's name is never touched, whatever it ends with.
    expect(bareModelName({ displayName: `Odd${EMULATED_SUFFIX}`, emulated: false })).toBe(`Odd${EMULATED_SUFFIX}`)
  })

  it('says "emulated" exactly once, in the UI language', async () => {
    const i18n = i18next.createInstance()
    await i18n.init({ resources, lng: 'zh-CN', interpolation: { escapeValue: false } })
    expect(modelLabel(served, i18n.t)).toBe('Qwen-Plus（模拟）')
    expect(modelLabel(admin, i18n.t)).toBe('Qwen-Plus（模拟）')
    expect(modelLabel(real, i18n.t)).toBe('Qwen-Plus')
    await i18n.changeLanguage('en')
    expect(modelLabel(served, i18n.t)).toBe('Qwen-Plus (emulated)')
    expect(modelLabel(real, i18n.t)).toBe('Qwen-Plus')
  })
})
