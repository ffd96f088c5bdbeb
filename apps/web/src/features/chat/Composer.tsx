import { ArrowUpOutlined, BulbOutlined, CloseOutlined, LoadingOutlined, PictureOutlined } from '@ant-design/icons'
import type { FileInfo } from '@qiao/shared'
import { App, Button, Flex, Input, Tooltip, theme } from 'antd'
import { useRef, useState, type KeyboardEvent } from 'react'
import { useTranslation } from 'react-i18next'
import { errorText } from '../../components/error-text'
import { chatApi } from './chat-api'

const MAX_ATTACHMENTS = 8
const IMAGE_TYPES = 'image/png,image/jpeg,image/gif,image/webp'

interface Attachment {
  key: string
  /** A local preview of the chosen file (a blob: URL we revoke). */
  preview: string
  info?: FileInfo
  uploading: boolean
}

export interface ComposerDraft {
  content: string
  attachments: FileInfo[]
}

/**
 * The message box. Enter sends, Shift+Enter adds a line, and Enter while an input method is
 * composing (pinyin!) only confirms the candidate. Esc stops an answer being written.
 */
export function Composer({
  busy,
  canAttach,
  canThink,
  thinking,
  onThinkingChange,
  onSend,
  onStop,
  restore,
}: {
  busy: boolean
  canAttach: boolean
  canThink: boolean
  thinking: boolean
  onThinkingChange: (on: boolean) => void
  onSend: (draft: ComposerDraft) => boolean | Promise<boolean>
  onStop: () => void
  /** A draft handed back after a refused send; its identity changes each time. */
  restore?: ComposerDraft | undefined
}) {
  const { t } = useTranslation()
  const { message } = App.useApp()
  const { token } = theme.useToken()
  const [text, setText] = useState('')
  const [attachments, setAttachments] = useState<Attachment[]>([])
  const composing = useRef(false)
  const fileInput = useRef<HTMLInputElement>(null)

  // A refused send hands its draft back once (state adjusted during render, not in an effect).
  const [restored, setRestored] = useState(restore)
  if (restore !== restored) {
    setRestored(restore)
    if (restore) {
      setText(restore.content)
      setAttachments(restore.attachments.map((info) => ({ key: info.id, preview: '', info, uploading: false })))
    }
  }

  const uploading = attachments.some((a) => a.uploading)
  const ready = attachments.filter((a) => a.info).map((a) => a.info!)
  const canSend = !busy && !uploading && (text.trim().length > 0 || ready.length > 0)

  const submit = async () => {
    if (!canSend) return
    const sent = await onSend({ content: text, attachments: canAttach ? ready : [] })
    if (sent) {
      for (const a of attachments) if (a.preview) URL.revokeObjectURL(a.preview)
      setText('')
      setAttachments([])
    }
  }

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Escape' && busy) {
      e.preventDefault()
      onStop()
      return
    }
    if (e.key !== 'Enter' || e.shiftKey) return
    // keyCode 229 is what Safari and older Chrome report while an IME holds the key.
    if (composing.current || e.nativeEvent.isComposing || e.keyCode === 229) return
    e.preventDefault()
    void submit()
  }

  const addFiles = (files: FileList | null) => {
    if (!files) return
    const room = MAX_ATTACHMENTS - attachments.length
    const chosen = Array.from(files).slice(0, Math.max(0, room))
    if (files.length > chosen.length) void message.warning(t('chat.tooManyImages', { count: MAX_ATTACHMENTS }))
    for (const file of chosen) {
      const key = `${Date.now()}-${Math.random()}`
      setAttachments((list) => [...list, { key, preview: URL.createObjectURL(file), uploading: true }])
      chatApi.upload(file).then(
        (info) => setAttachments((list) => list.map((a) => (a.key === key ? { ...a, info, uploading: false } : a))),
        (err: unknown) => {
          void message.error(errorText(t, err))
          setAttachments((list) => list.filter((a) => a.key !== key))
        },
      )
    }
  }

  const remove = (key: string) =>
    setAttachments((list) => {
      const gone = list.find((a) => a.key === key)
      if (gone?.preview) URL.revokeObjectURL(gone.preview)
      return list.filter((a) => a.key !== key)
    })

  return (
    <div
      className="qiao-composer"
      style={{
        border: `1px solid ${token.colorBorder}`,
        borderRadius: 16,
        background: token.colorBgContainer,
        padding: '8px 10px',
        boxShadow: token.boxShadowTertiary,
      }}
    >
      {attachments.length > 0 && (
        <Flex gap={8} wrap style={{ padding: '4px 2px 8px' }} data-testid="attachments">
          {attachments.map((a) => (
            <div key={a.key} style={{ position: 'relative', width: 64, height: 64 }}>
              {a.preview ? (
                <img
                  src={a.preview}
                  alt={a.info?.name ?? ''}
                  style={{
                    width: 64,
                    height: 64,
                    objectFit: 'cover',
                    borderRadius: 8,
                    border: `1px solid ${token.colorBorderSecondary}`,
                  }}
                />
              ) : (
                <Flex
                  align="center"
                  justify="center"
                  style={{ width: 64, height: 64, borderRadius: 8, background: token.colorFillTertiary }}
                >
                  <PictureOutlined />
                </Flex>
              )}
              {a.uploading && (
                <Flex
                  align="center"
                  justify="center"
                  style={{
                    position: 'absolute',
                    inset: 0,
                    background: 'rgba(0,0,0,0.35)',
                    borderRadius: 8,
                    color: '#fff',
                  }}
                >
                  <LoadingOutlined />
                </Flex>
              )}
              <Button
                size="small"
                shape="circle"
                icon={<CloseOutlined />}
                aria-label={t('chat.removeImage')}
                onClick={() => remove(a.key)}
                style={{ position: 'absolute', top: -6, right: -6, width: 20, minWidth: 20, height: 20 }}
              />
            </div>
          ))}
        </Flex>
      )}
      <Input.TextArea
        data-testid="composer-input"
        aria-label={t('chat.inputLabel')}
        value={text}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={onKeyDown}
        onCompositionStart={() => (composing.current = true)}
        onCompositionEnd={() => (composing.current = false)}
        placeholder={t('chat.placeholder')}
        autoSize={{ minRows: 1, maxRows: 8 }}
        variant="borderless"
        style={{ paddingInline: 4, fontSize: 15 }}
      />
      <Flex align="center" justify="space-between" style={{ marginTop: 6 }}>
        <Flex align="center" gap={4}>
          <input
            ref={fileInput}
            type="file"
            accept={IMAGE_TYPES}
            multiple
            hidden
            data-testid="image-input"
            onChange={(e) => {
              addFiles(e.target.files)
              e.target.value = ''
            }}
          />
          <Tooltip title={canAttach ? t('chat.attachImage') : t('chat.attachNeedsVision')}>
            <Button
              type="text"
              icon={<PictureOutlined />}
              aria-label={t('chat.attachImage')}
              disabled={!canAttach || attachments.length >= MAX_ATTACHMENTS}
              onClick={() => fileInput.current?.click()}
              data-testid="attach-button"
            />
          </Tooltip>
          {canThink && (
            <Tooltip title={t('chat.thinkingHint')}>
              <Button
                type={thinking ? 'primary' : 'text'}
                ghost={thinking}
                size="small"
                icon={<BulbOutlined />}
                aria-pressed={thinking}
                onClick={() => onThinkingChange(!thinking)}
                data-testid="thinking-toggle"
              >
                {t('chat.thinking')}
              </Button>
            </Tooltip>
          )}
        </Flex>
        {busy ? (
          <Tooltip title={t('chat.stopHint')}>
            <Button
              type="primary"
              danger
              shape="round"
              onClick={onStop}
              data-testid="stop-button"
              icon={
                <span
                  aria-hidden
                  style={{
                    display: 'inline-block',
                    width: 10,
                    height: 10,
                    background: 'currentColor',
                    borderRadius: 2,
                  }}
                />
              }
            >
              {t('chat.stop')}
            </Button>
          </Tooltip>
        ) : (
          <Button
            type="primary"
            shape="circle"
            icon={<ArrowUpOutlined />}
            aria-label={t('chat.send')}
            disabled={!canSend}
            onClick={() => void submit()}
            data-testid="send-button"
          />
        )}
      </Flex>
    </div>
  )
}
