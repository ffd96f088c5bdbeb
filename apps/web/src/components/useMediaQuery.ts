import { useSyncExternalStore } from 'react'

/** Subscribes to a CSS media query; read synchronously, so the first paint already has the right layout. */
export function useMediaQuery(query: string): boolean {
  return useSyncExternalStore(
    (onChange) => {
      const media = window.matchMedia(query)
      media.addEventListener('change', onChange)
      return () => media.removeEventListener('change', onChange)
    },
    () => window.matchMedia(query).matches,
    () => false,
  )
}

/** Below antd's `md` breakpoint (768 px) the sidebar becomes a drawer. */
export const PHONE_QUERY = '(max-width: 767.98px)'

/**
 * Below antd's `xl` breakpoint (1200 px), tablets among them, the navigation starts collapsed to its
 * icons: beside it and the conversation list, the conversation would be left ~280 px at 768 px.
 */
export const NARROW_QUERY = '(max-width: 1199.98px)'
