import {
  CheckOutlined,
  CopyOutlined,
  EditOutlined,
  LeftOutlined,
  RedoOutlined,
  RightOutlined,
  PictureOutlined,
} from '@ant-design/icons'
import { Think } from '@ant-design/x'
import type { Message, MessagePart } from '@qiao/shared'
import { Alert, Button, Flex, Image, Input, Tag, Tooltip, Typography, theme } from 'antd'
import { memo, useEffect, useState } from 'react'
import { useTranslation } from 'react-i18next'
import { useCopy } from '../../components/markdown/CodeBlock'
import { Markdown } from '../../components/markdown/Markdown'
import { chatApi } from './chat-api'
import { formatYuan } from './chat-format'

export interface MessageActions {
  onRegenerate: (message: Message) => void
  onEdit: (message: Message, content: string) => void
  onSwitchBranch: (messageId: string) => void
}

/** Stored images need the bearer token, so they are fetched once and shown from blob: URLs. */
const blobUrls = new Map<string, Promise<string>>()

function StoredImage({ part }: { part: MessagePart }) {
  const { token } = theme.useToken()
  const [src, setSrc] = useState<string>()
  const [failed, setFailed] = useState(false)
  useEffect(() => {
    let live = true
    let pending = blobUrls.get(part.url)
    if (!pending) {
      pending = chatApi.fileBlobUrl(part.url)
      blobUrls.set(part.url, pending)
      pending.catch(() => blobUrls.delete(part.url))
    }
    pending.then(
      (url) => live && setSrc(url),
      () => live && setFailed(true),
    )
    return () => {
      live = false
    }
  }, [part.url])
  const box = { width: 120, height: 120, borderRadius: 8, border: `1px solid ${token.colorBorderSecondary}` }
  if (!src) {
    return (
      <Flex
        align="center"
        justify="center"
        style={{ ...box, background: token.colorFillTertiary }}
        aria-label={part.name}
      >
        <PictureOutlined style={{ fontSize: 24, color: failed ? token.colorError : token.colorTextQuaternary }} />
      </Flex>
    )
  }
  return (
    <Image
      src={src}
      alt={part.name ?? ''}
      width={120}
      height={120}
      style={{ ...box, objectFit: 'cover' }}
      data-testid="message-image"
    />
  )
}

function BranchSwitcher({ message, onSwitch }: { message: Message; onSwitch: (id: string) => void }) {
  const { t } = useTranslation()
  const ids = message.siblingIds ?? []
  const at = ids.indexOf(message.id)
  if (ids.length < 2 || at < 0) return null
  return (
    <Flex align="center" gap={0} data-testid="branch-switcher">
      <Button
        type="text"
        size="small"
        icon={<LeftOutlined />}
        aria-label={t('chat.prevBranch')}
        disabled={at === 0}
        onClick={() => onSwitch(ids[at - 1]!)}
      />
      <Typography.Text type="secondary" style={{ fontSize: 12, minWidth: 28, textAlign: 'center' }}>
        {at + 1}/{ids.length}
      </Typography.Text>
      <Button
        type="text"
        size="small"
        icon={<RightOutlined />}
        aria-label={t('chat.nextBranch')}
        disabled={at === ids.length - 1}
        onClick={() => onSwitch(ids[at + 1]!)}
      />
    </Flex>
  )
}

function CopyButton({ text }: { text: string }) {
  const { t } = useTranslation()
  const [copied, copy] = useCopy()
  return (
    <Tooltip title={copied ? t('markdown.copied') : t('chat.copy')}>
      <Button
        type="text"
        size="small"
        icon={copied ? <CheckOutlined /> : <CopyOutlined />}
        aria-label={t('chat.copy')}
        onClick={() => copy(text)}
      />
    </Tooltip>
  )
}

function UserMessage({ message, actions, busy }: { message: Message; actions: MessageActions; busy: boolean }) {
  const { t } = useTranslation()
  const { token } = theme.useToken()
  const [editing, setEditing] = useState(false)
  const [draft, setDraft] = useState(message.content)
  const images = message.parts?.filter((p) => p.type === 'image') ?? []
  const pending = message.id.startsWith('pending-')

  if (editing) {
    return (
      <Flex vertical gap={8} style={{ marginInlineStart: 'auto', width: 'min(100%, 640px)' }} data-testid="edit-box">
        <Input.TextArea
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          autoSize={{ minRows: 2, maxRows: 12 }}
          autoFocus
        />
        <Flex gap={8} justify="flex-end">
          <Button onClick={() => setEditing(false)}>{t('chat.cancel')}</Button>
          <Button
            type="primary"
            disabled={!draft.trim() || busy}
            onClick={() => {
              setEditing(false)
              actions.onEdit(message, draft)
            }}
          >
            {t('chat.saveAndSend')}
          </Button>
        </Flex>
      </Flex>
    )
  }
  return (
    <Flex vertical align="flex-end" gap={4} className="qiao-msg qiao-msg-user" data-testid="message-user">
      {images.length > 0 && (
        <Image.PreviewGroup>
          <Flex gap={8} wrap justify="flex-end">
            {images.map((p) => (
              <StoredImage key={p.fileId} part={p} />
            ))}
          </Flex>
        </Image.PreviewGroup>
      )}
      {message.content && (
        <div
          style={{
            maxWidth: 'min(100%, 640px)',
            padding: '10px 14px',
            borderRadius: 16,
            background: token.colorPrimaryBg,
            color: token.colorText,
            whiteSpace: 'pre-wrap',
            overflowWrap: 'anywhere',
            lineHeight: 1.6,
          }}
          data-testid="message-user-text"
        >
          {message.content}
        </div>
      )}
      {!pending && (
        <Flex align="center" gap={2} className="qiao-msg-actions">
          <BranchSwitcher message={message} onSwitch={actions.onSwitchBranch} />
          <CopyButton text={message.content} />
          <Tooltip title={t('chat.edit')}>
            <Button
              type="text"
              size="small"
              icon={<EditOutlined />}
              aria-label={t('chat.edit')}
              disabled={busy}
              onClick={() => {
                setDraft(message.content)
                setEditing(true)
              }}
            />
          </Tooltip>
        </Flex>
      )}
    </Flex>
  )
}

function AssistantMessage({
  message,
  actions,
  busy,
  live,
  dark,
  modelName,
}: {
  message: Message
  actions: MessageActions
  busy: boolean
  live: boolean
  dark: boolean
  modelName: string | undefined
}) {
  const { t } = useTranslation()
  const { token } = theme.useToken()
  const streaming = message.status === 'streaming'
  const reasoning = message.reasoning ?? ''
  const waiting = streaming && !message.content && !reasoning
  return (
    <Flex
      vertical
      gap={6}
      className="qiao-msg qiao-msg-assistant"
      data-testid="message-assistant"
      data-status={message.status}
    >
      <Flex align="center" gap={8}>
        <Typography.Text type="secondary" style={{ fontSize: 12 }}>
          {modelName ?? message.model ?? ''}
        </Typography.Text>
        {message.status === 'interrupted' && (
          <Tag color="warning" data-testid="status-interrupted">
            {t('chat.interrupted')}
          </Tag>
        )}
        {message.status === 'error' && <Tag color="error">{t('chat.failed')}</Tag>}
      </Flex>
      {reasoning && (
        <Think
          title={streaming && !message.content ? t('chat.thinkingNow') : t('chat.thoughts')}
          loading={streaming && !message.content}
          defaultExpanded={false}
          data-testid="reasoning"
        >
          <Typography.Text type="secondary" style={{ whiteSpace: 'pre-wrap', fontSize: 13 }}>
            {reasoning}
          </Typography.Text>
        </Think>
      )}
      {waiting ? (
        <span className="qiao-typing" aria-label={t('chat.waiting')} role="status">
          <i />
          <i />
          <i />
        </span>
      ) : (
        message.content && (
          <div data-testid="message-content" className={streaming ? 'qiao-streaming' : undefined}>
            <Markdown text={message.content} dark={dark} />
          </div>
        )
      )}
      {message.status === 'error' && (
        <Alert
          type="error"
          showIcon
          role="alert"
          data-testid="message-error"
          title={
            message.error
              ? t(`errors.${message.error.code}` as 'errors.UNKNOWN', { defaultValue: message.error.message })
              : t('errors.UNKNOWN')
          }
          action={
            <Button
              size="small"
              danger
              icon={<RedoOutlined />}
              disabled={busy}
              onClick={() => actions.onRegenerate(message)}
              data-testid="retry-button"
            >
              {t('chat.retry')}
            </Button>
          }
        />
      )}
      {message.status === 'error' && !live && <BranchSwitcher message={message} onSwitch={actions.onSwitchBranch} />}
      {!streaming && !live && message.status !== 'error' && (
        <Flex align="center" gap={2} wrap className="qiao-msg-actions">
          <BranchSwitcher message={message} onSwitch={actions.onSwitchBranch} />
          <CopyButton text={message.content} />
          <Tooltip title={t('chat.regenerate')}>
            <Button
              type="text"
              size="small"
              icon={<RedoOutlined />}
              aria-label={t('chat.regenerate')}
              disabled={busy}
              onClick={() => actions.onRegenerate(message)}
              data-testid="regenerate-button"
            />
          </Tooltip>
          {message.usage && message.usage.promptTokens + message.usage.completionTokens > 0 && (
            <Typography.Text
              type="secondary"
              style={{ fontSize: 12, marginInlineStart: 6, color: token.colorTextTertiary }}
              data-testid="usage"
            >
              {t('chat.usage', {
                prompt: message.usage.promptTokens,
                completion: message.usage.completionTokens,
                cost: formatYuan(message.usage.cost),
              })}
            </Typography.Text>
          )}
        </Flex>
      )}
    </Flex>
  )
}

export const MessageItem = memo(function MessageItem(props: {
  message: Message
  actions: MessageActions
  busy: boolean
  /** Part of the turn in flight (not yet reloaded from the server). */
  live: boolean
  dark: boolean
  modelName: string | undefined
}) {
  return props.message.role === 'user' ? (
    <UserMessage message={props.message} actions={props.actions} busy={props.busy} />
  ) : (
    <AssistantMessage {...props} />
  )
})
