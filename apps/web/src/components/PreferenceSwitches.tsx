import { CheckOutlined, DesktopOutlined, MoonOutlined, SunOutlined, TranslationOutlined } from '@ant-design/icons'
import { useState, type ReactNode } from 'react'
import { Button, Dropdown, Tooltip } from 'antd'
import { useTranslation } from 'react-i18next'
import { setLanguage, setTheme, usePreferences, type ThemeMode } from '../app/preferences'
import { LANGUAGE_NAMES, LANGUAGES } from '../i18n'

/**
 * A header button's tooltip, hidden while the button's menu is open: placed below the button, it
 * would otherwise cover the menu's first item (and stay open while the pointer crosses it).
 */
function useMenuTooltip() {
  const [menuOpen, setMenuOpen] = useState(false)
  const [tipOpen, setTipOpen] = useState(false)
  return {
    dropdown: { onOpenChange: (open: boolean) => setMenuOpen(open) },
    tooltip: { open: tipOpen && !menuOpen, onOpenChange: (open: boolean) => setTipOpen(open) },
  }
}

/** zh-CN / en; saved on the device and, when signed in, on the account. */
export function LanguageSwitch() {
  const { t } = useTranslation()
  const language = usePreferences((s) => s.language)
  const menuTip = useMenuTooltip()
  return (
    <Dropdown
      {...menuTip.dropdown}
      trigger={['click']}
      menu={{
        selectable: true,
        selectedKeys: [language],
        items: LANGUAGES.map((lng) => ({ key: lng, label: LANGUAGE_NAMES[lng] })),
        onClick: ({ key }) => void setLanguage(key as (typeof LANGUAGES)[number]),
      }}
    >
      <Tooltip {...menuTip.tooltip} title={t('header.language')} placement="bottom">
        <Button
          type="text"
          icon={<TranslationOutlined />}
          aria-label={t('header.language')}
          data-testid="language-switch"
        >
          {LANGUAGE_NAMES[language]}
        </Button>
      </Tooltip>
    </Dropdown>
  )
}

const THEME_ICONS: Record<ThemeMode, ReactNode> = {
  light: <SunOutlined />,
  dark: <MoonOutlined />,
  system: <DesktopOutlined />,
}

/** Light, dark, or follow the operating system. */
export function ThemeSwitch() {
  const { t } = useTranslation()
  const mode = usePreferences((s) => s.theme)
  const labels: Record<ThemeMode, string> = {
    light: t('header.themeLight'),
    dark: t('header.themeDark'),
    system: t('header.themeSystem'),
  }
  const menuTip = useMenuTooltip()
  return (
    <Dropdown
      {...menuTip.dropdown}
      trigger={['click']}
      menu={{
        selectable: true,
        selectedKeys: [mode],
        items: (['light', 'dark', 'system'] as const).map((key) => ({
          key,
          icon: THEME_ICONS[key],
          label: labels[key],
          extra: key === mode ? <CheckOutlined /> : undefined,
        })),
        onClick: ({ key }) => void setTheme(key as ThemeMode),
      }}
    >
      <Tooltip {...menuTip.tooltip} title={`${t('header.theme')}: ${labels[mode]}`} placement="bottom">
        <Button type="text" icon={THEME_ICONS[mode]} aria-label={t('header.theme')} data-testid="theme-switch" />
      </Tooltip>
    </Dropdown>
  )
}
