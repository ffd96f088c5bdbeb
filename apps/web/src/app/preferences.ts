import type { Preferences, User } from '@qiao/shared'
import { create } from 'zustand'
import { api } from '../api/client'
import { setUser, useSession } from '../api/session'
import { applyLanguage, isLanguage, storedLanguage, type Language } from '../i18n'

export type ThemeMode = 'light' | 'dark' | 'system'
const THEME_KEY = 'qiao.theme'
const THEMES: readonly ThemeMode[] = ['light', 'dark', 'system']

function storedTheme(): ThemeMode {
  try {
    const saved = localStorage.getItem(THEME_KEY)
    return THEMES.includes(saved as ThemeMode) ? (saved as ThemeMode) : 'system'
  } catch {
    return 'system'
  }
}

interface PreferencesState {
  language: Language
  theme: ThemeMode
}

/** UI preferences: kept on the device (localStorage) and, when signed in, on the account. */
export const usePreferences = create<PreferencesState>(() => ({ language: storedLanguage(), theme: storedTheme() }))

async function saveToAccount(change: Preferences): Promise<void> {
  const user = useSession.getState().user
  if (!user) return
  try {
    const updated = await api.patch<User>('/api/me', { preferences: { ...user.preferences, ...change } })
    setUser(updated)
  } catch {
    // The device keeps the choice; the account catches up next time it is changed.
  }
}

export async function setLanguage(language: Language): Promise<void> {
  usePreferences.setState({ language })
  await applyLanguage(language)
  await saveToAccount({ language })
}

export async function setTheme(theme: ThemeMode): Promise<void> {
  usePreferences.setState({ theme })
  try {
    localStorage.setItem(THEME_KEY, theme)
  } catch {
    // Storage disabled: the choice lasts for this page only.
  }
  await saveToAccount({ theme })
}

/**
 * On sign-in the account's saved choices win over this device's; an account that has none yet
 * takes this device's, so the next device the user signs in on looks the same.
 */
export async function syncPreferencesOnSignIn(preferences: Preferences): Promise<void> {
  const { language, theme } = usePreferences.getState()
  const missing: Preferences = {}
  if (isLanguage(preferences.language)) {
    if (preferences.language !== language) {
      usePreferences.setState({ language: preferences.language })
      await applyLanguage(preferences.language)
    }
  } else {
    missing.language = language
  }
  if (preferences.theme) {
    if (preferences.theme !== theme) {
      usePreferences.setState({ theme: preferences.theme })
      try {
        localStorage.setItem(THEME_KEY, preferences.theme)
      } catch {
        // Storage disabled.
      }
    }
  } else {
    missing.theme = theme
  }
  if (Object.keys(missing).length) await saveToAccount(missing)
}
