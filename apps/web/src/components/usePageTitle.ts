import { useEffect } from 'react'

/** The tab title names the page first, so a row of Qiao tabs stays tellable apart. */
export function usePageTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · 桥 Qiao` : '桥 Qiao'
  }, [title])
}
