import { theme as antdTheme, type ThemeConfig } from 'antd'
import { useMediaQuery } from '../components/useMediaQuery'
import { usePreferences } from './preferences'

/** The brand colour: indigo reads well on white and on dark, and white text on it passes AA. */
export const BRAND_COLOR = '#4f46e5'

/** True when the page should render dark: chosen explicitly, or following the system. */
export function useIsDark(): boolean {
  const mode = usePreferences((s) => s.theme)
  const systemDark = useMediaQuery('(prefers-color-scheme: dark)')
  return mode === 'dark' || (mode === 'system' && systemDark)
}

/** Everything visual comes from antd tokens; the algorithm switches the whole palette. */
export function themeConfig(dark: boolean): ThemeConfig {
  return {
    algorithm: dark ? antdTheme.darkAlgorithm : antdTheme.defaultAlgorithm,
    token: {
      colorPrimary: BRAND_COLOR,
      colorInfo: BRAND_COLOR,
      colorLink: dark ? '#8b87f5' : BRAND_COLOR,
      borderRadius: 8,
      fontFamily:
        "-apple-system, BlinkMacSystemFont, 'Segoe UI', 'PingFang SC', 'Hiragino Sans GB', 'Microsoft YaHei', 'Noto Sans CJK SC', 'WenQuanYi Micro Hei', Roboto, 'Helvetica Neue', Arial, sans-serif",
    },
  }
}
