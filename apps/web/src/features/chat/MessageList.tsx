import { useVirtualizer } from '@tanstack/react-virtual'
import type { Message } from '@qiao/shared'
import { Button, Flex } from 'antd'
import { useCallback, useEffect, useLayoutEffect, useRef, type ReactNode } from 'react'
import { useTranslation } from 'react-i18next'

/** Closer than this to the bottom counts as "at the bottom": the list follows new text. */
const STICK_PX = 80

/**
 * The conversation, virtualised (only the messages near the viewport are in the DOM, measured
 * as they render, so long conversations stay fast). While an answer streams the list follows
 * it, unless the reader has scrolled up to read something else.
 */
export function MessageList({
  messages,
  renderMessage,
  followKey,
  hasOlder,
  loadingOlder,
  onLoadOlder,
  maxWidth,
}: {
  messages: Message[]
  renderMessage: (message: Message) => ReactNode
  /** Changes whenever the list should jump to the bottom (a new turn started). */
  followKey: string
  hasOlder: boolean
  loadingOlder: boolean
  onLoadOlder: () => void
  maxWidth: number
}) {
  const { t } = useTranslation()
  const scroller = useRef<HTMLDivElement>(null)
  const inner = useRef<HTMLDivElement>(null)
  const stick = useRef(true)

  // TanStack Virtual hands back fresh functions each render, so the React Compiler leaves this component alone; nothing here is memoised by hand either.
  // eslint-disable-next-line react-hooks/incompatible-library
  const virtualizer = useVirtualizer({
    count: messages.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => 160,
    overscan: 4,
    getItemKey: (index) => messages[index]?.id ?? index,
    paddingStart: 16,
    paddingEnd: 24,
  })

  const toBottom = useCallback(() => {
    const el = scroller.current
    if (el) el.scrollTop = el.scrollHeight
  }, [])

  // A new turn (or another conversation): follow from the bottom again.
  useLayoutEffect(() => {
    stick.current = true
    toBottom()
  }, [followKey, toBottom])

  // Content grows as text streams in and items get measured: keep the bottom in view if we were there.
  useEffect(() => {
    const box = inner.current
    if (!box) return
    const observer = new ResizeObserver(() => {
      if (stick.current) toBottom()
    })
    observer.observe(box)
    return () => observer.disconnect()
  }, [toBottom])

  useEffect(() => {
    if (stick.current) toBottom()
  })

  const items = virtualizer.getVirtualItems()
  return (
    <div
      ref={scroller}
      data-testid="message-list"
      style={{ flex: 1, minHeight: 0, overflowY: 'auto', overflowAnchor: 'none' }}
      onScroll={(e) => {
        const el = e.currentTarget
        stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < STICK_PX
      }}
    >
      <div ref={inner} style={{ maxWidth, margin: '0 auto', paddingInline: 16 }}>
        {hasOlder && (
          <Flex justify="center" style={{ paddingTop: 12 }}>
            <Button size="small" loading={loadingOlder} onClick={onLoadOlder}>
              {t('chat.loadOlder')}
            </Button>
          </Flex>
        )}
        <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
          {items.map((item) => (
            <div
              key={item.key}
              data-index={item.index}
              ref={virtualizer.measureElement}
              style={{
                position: 'absolute',
                top: 0,
                left: 0,
                width: '100%',
                transform: `translateY(${item.start}px)`,
                paddingBottom: 20,
              }}
            >
              {renderMessage(messages[item.index]!)}
            </div>
          ))}
        </div>
      </div>
    </div>
  )
}
