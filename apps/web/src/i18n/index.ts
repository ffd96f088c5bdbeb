import i18n from 'i18next'
import { initReactI18next } from 'react-i18next'
import { en } from './en'
import { zhCN } from './zh-CN'

export const LANGUAGES = ['zh-CN', 'en'] as const
export type Language = (typeof LANGUAGES)[number]

/** Names shown in the language switch, each in its own language. */
export const LANGUAGE_NAMES: Record<Language, string> = { 'zh-CN': '简体中文', en: 'English' }

export const resources = { 'zh-CN': { translation: zhCN }, en: { translation: en } } as const

const STORAGE_KEY = 'qiao.language'

export function isLanguage(value: unknown): value is Language {
  return typeof value === 'string' && (LANGUAGES as readonly string[]).includes(value)
}

/** The language chosen on this device before, else zh-CN (most of our users read Chinese). */
export function storedLanguage(): Language {
  try {
    const saved = localStorage.getItem(STORAGE_KEY)
    return isLanguage(saved) ? saved : 'zh-CN'
  } catch {
    return 'zh-CN'
  }
}

/** Switches the UI language and remembers it on this device (a preference, not a secret). */
export async function applyLanguage(language: Language): Promise<void> {
  try {
    localStorage.setItem(STORAGE_KEY, language)
  } catch {
    // Private mode or storage disabled: the choice lasts for this page only.
  }
  document.documentElement.lang = language
  await i18n.changeLanguage(language)
}

export function initI18n(): typeof i18n {
  const lng = storedLanguage()
  document.documentElement.lang = lng
  // Resources are bundled, so initialisation completes synchronously (initAsync: false).
  void i18n.use(initReactI18next).init({
    resources,
    lng,
    fallbackLng: 'zh-CN',
    initAsync: false,
    // React escapes output itself; escaping twice would show entities.
    interpolation: { escapeValue: false },
    returnNull: false,
  })
  return i18n
}

export { i18n }
