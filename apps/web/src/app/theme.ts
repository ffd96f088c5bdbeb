import { theme as antdTheme, type ThemeConfig } from 'antd'
import { useMediaQuery } from '../components/useMediaQuery'
import { usePreferences } from './preferences'

/** The brand colour: indigo reads well on white and on dark, and white text on it passes AA. */
export const BRAND_COLOR = '#4f46e5'

/**
 * Latin fonts first, then CJK ones. The browser takes each character from the first font that has
 * it, so Latin letters and ASCII punctuation come from a Latin font and Chinese characters (which
 * no Latin font has) fall through to the CJK fonts. With a CJK font first, it also drew the Latin
 * text, and its apostrophes and quotes are full-width. No `system-ui`: on a Chinese Windows or
 * Linux desktop it names the locale's CJK UI font, which would bring the same problem back.
 */
export const FONT_FAMILY = [
  '-apple-system',
  'BlinkMacSystemFont',
  "'Segoe UI'",
  'Roboto',
  "'Helvetica Neue'",
  'Arial',
  "'Noto Sans'",
  "'PingFang SC'",
  "'Hiragino Sans GB'",
  "'Microsoft YaHei'",
  "'Noto Sans CJK SC'",
  "'Source Han Sans SC'",
  "'WenQuanYi Micro Hei'",
  'sans-serif',
].join(', ')

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
      fontFamily: FONT_FAMILY,
    },
  }
}
