import 'i18next'
import type { zhCN } from './zh-CN'

// Typed keys: `t('nav.chat')` is checked at compile time, and `t(\`errors.${code}\`)` proves
// that every server error code has a translation.
declare module 'i18next' {
  interface CustomTypeOptions {
    defaultNS: 'translation'
    resources: { translation: typeof zhCN }
    returnNull: false
  }
}
