import { UnorderedListOutlined } from '@ant-design/icons'
import { Welcome } from '@ant-design/x'
import { keepPreviousData, useInfiniteQuery, useQuery, useQueryClient } from '@tanstack/react-query'
import { ERROR_CODES, type ErrorCode, type Message } from '@qiao/shared'
import { Alert, App, Button, Drawer, Flex, Result, Skeleton, Typography, theme } from 'antd'
import type { TFunction } from 'i18next'
import { useCallback, useEffect, useMemo, useRef, useState } from 'react'
import { useTranslation } from 'react-i18next'
import { useNavigate, useParams } from 'react-router-dom'
import { ApiError } from '../../api/client'
import { useSession } from '../../api/session'
import { useIsDark } from '../../app/theme'
import { ErrorAlert } from '../../components/ErrorAlert'
import { errorText } from '../../components/error-text'
import { LogoMark } from '../../components/Logo'
import { PHONE_QUERY, useMediaQuery } from '../../components/useMediaQuery'
import { usePageTitle } from '../../components/usePageTitle'
import { invalidateBalance } from '../billing/billing-api'
import './chat.css'
import { chatApi, chatKeys } from './chat-api'
import { canChat, canSee, canThink, modelLabel } from './chat-format'
import { Composer, type ComposerDraft } from './Composer'
import { ConversationSidebar } from './ConversationSidebar'
import { MessageItem, type MessageActions } from './MessageItem'
import { MessageList } from './MessageList'
import { ModelPicker } from './ModelPicker'
import { clearTurn, isTerminal, regenerateMessage, sendMessage, useChatStream } from './useChatStream'

const SIDEBAR_WIDTH = 272
const CONTENT_WIDTH = 820
const LAST_MODEL_KEY = 'qiao.chat.model'
const KNOWN_CODES: ReadonlySet<string> = new Set(ERROR_CODES)

function lastModel(): string | undefined {
  try {
    return localStorage.getItem(LAST_MODEL_KEY) ?? undefined
  } catch {
    return undefined
  }
}

/** A stream's error code in words; the server's English text is the fallback for codes this build does not know. */
function turnErrorText(t: TFunction, error: { code: string; message: string }): string {
  return KNOWN_CODES.has(error.code) || error.code === 'NETWORK'
    ? t(`errors.${error.code as ErrorCode}`)
    : t('errors.UNKNOWN')
}

/** `/` (a new chat) and `/c/:id`: the conversation list beside the conversation. */
export function ChatPage() {
  const { t } = useTranslation()
  const { id } = useParams<{ id: string }>()
  const { token } = theme.useToken()
  const isPhone = useMediaQuery(PHONE_QUERY)
  const [listOpen, setListOpen] = useState(false)
  // Lives here, above the per-conversation part, so it survives the move from / to /c/:id.
  const [thinking, setThinking] = useState(false)
  return (
    <Flex style={{ height: '100%', minHeight: 0 }} data-testid="chat-page">
      {isPhone ? (
        <Drawer
          placement="left"
          open={listOpen}
          onClose={() => setListOpen(false)}
          size={300}
          title={t('chat.conversations')}
          styles={{ body: { padding: 0 } }}
          data-testid="conversation-drawer"
        >
          <ConversationSidebar activeId={id} onNavigate={() => setListOpen(false)} />
        </Drawer>
      ) : (
        <aside
          style={{
            width: SIDEBAR_WIDTH,
            flex: 'none',
            borderInlineEnd: `1px solid ${token.colorBorderSecondary}`,
            background: token.colorBgContainer,
          }}
        >
          <ConversationSidebar activeId={id} />
        </aside>
      )}
      <ChatMain
        key={id ?? 'new'}
        conversationId={id}
        onOpenList={isPhone ? () => setListOpen(true) : undefined}
        thinking={thinking}
        setThinking={setThinking}
      />
    </Flex>
  )
}

function ChatMain({
  conversationId: id,
  onOpenList,
  thinking,
  setThinking,
}: {
  conversationId: string | undefined
  onOpenList: (() => void) | undefined
  thinking: boolean
  setThinking: (on: boolean) => void
}) {
  const { t } = useTranslation()
  const { token } = theme.useToken()
  const { message: toast } = App.useApp()
  const dark = useIsDark()
  const navigate = useNavigate()
  const queryClient = useQueryClient()
  const user = useSession((s) => s.user)

  const models = useQuery({ queryKey: chatKeys.models, queryFn: chatApi.models, staleTime: 5 * 60_000 })
  const conversation = useQuery({
    queryKey: chatKeys.conversation(id ?? ''),
    queryFn: () => chatApi.conversation(id!),
    enabled: !!id,
  })
  /** The branch on screen: null follows the newest one. */
  const [leafId, setLeafId] = useState<string | null>(null)
  const messages = useInfiniteQuery({
    queryKey: chatKeys.messages(id ?? '', leafId),
    queryFn: ({ pageParam }) => chatApi.messages(id!, { leafId, cursor: pageParam }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    enabled: !!id,
    placeholderData: keepPreviousData,
  })
  // Pages walk backwards in time; each page is oldest first.
  const stored = useMemo(() => (messages.data?.pages ?? []).toReversed().flatMap((p) => p.items), [messages.data])

  const { turn, busy, stop } = useChatStream(id)

  // What is on screen: the stored branch up to where the live turn attaches, then the live turn.
  const display = useMemo(() => {
    if (!turn) return stored
    const refusedBeforeStart = turn.phase === 'error' && !turn.assistant
    const live: Message[] = []
    if (turn.user && !refusedBeforeStart) live.push(turn.user)
    if (turn.assistant) live.push(turn.assistant)
    const at = turn.anchorId === null ? 0 : stored.findIndex((m) => m.id === turn.anchorId) + 1
    const base = turn.anchorId === null || at > 0 ? stored.slice(0, at) : stored
    const liveIds = new Set(live.map((m) => m.id))
    return [...base.filter((m) => !liveIds.has(m.id)), ...live]
  }, [stored, turn])
  const liveIds = useMemo(() => new Set([turn?.user?.id, turn?.assistant?.id].filter(Boolean)), [turn])

  const chatModels = useMemo(() => (models.data ?? []).filter(canChat), [models.data])
  const [chosenModel, setChosenModel] = useState<string>()
  const modelId =
    [chosenModel, conversation.data?.model ?? undefined, lastModel()].find(
      (m) => m && chatModels.some((x) => x.id === m),
    ) ?? chatModels[0]?.id
  const model = chatModels.find((m) => m.id === modelId)
  const modelNames = useMemo(() => new Map((models.data ?? []).map((m) => [m.id, modelLabel(m, t)])), [models.data, t])

  usePageTitle(conversation.data?.title ?? t('nav.chat'))

  // A finished turn: show its branch, refresh the list (title, order), and hand over to the stored copy.
  const settled = useRef<string | undefined>(undefined)
  useEffect(() => {
    if (!id || !turn || !isTerminal(turn.phase) || !turn.assistant) return
    const target = turn.assistant.id
    if (settled.current !== target) {
      settled.current = target
      void queryClient.invalidateQueries({ queryKey: chatKeys.conversations() })
      void queryClient.invalidateQueries({ queryKey: chatKeys.conversation(id) })
      // The turn was charged (or its hold released): the header balance catches up.
      void invalidateBalance(queryClient)
      // What was fetched while streaming is stale now.
      void messages.refetch()
      return
    }
    if (messages.isFetching) return
    const saved = stored.find((m) => m.id === target)
    if (saved && saved.status !== 'streaming') {
      clearTurn(id)
    } else {
      // The server is still storing how the answer ended (a stop races the final write): ask again shortly.
      const timer = setTimeout(() => void messages.refetch(), 800)
      return () => clearTimeout(timer)
    }
  }, [id, turn, stored, messages, queryClient])

  // Esc stops the answer wherever the focus is.
  useEffect(() => {
    if (!busy) return
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') stop()
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [busy, stop])

  const chooseModel = (next: string) => {
    setChosenModel(next)
    try {
      localStorage.setItem(LAST_MODEL_KEY, next)
    } catch {
      // Storage disabled: the choice lasts for this page.
    }
    if (id) {
      chatApi.updateConversation(id, { model: next }).then(
        (c) => queryClient.setQueryData(chatKeys.conversation(c.id), c),
        () => undefined,
      )
    }
  }

  const lastStoredId = () => {
    const last = display.at(-1)
    return last && !last.id.startsWith('pending-') ? last.id : null
  }

  const send = async (draft: ComposerDraft): Promise<boolean> => {
    let cid = id
    if (!cid) {
      try {
        const created = await chatApi.createConversation(modelId ? { model: modelId } : {})
        cid = created.id
        queryClient.setQueryData(chatKeys.conversation(created.id), created)
        void queryClient.invalidateQueries({ queryKey: chatKeys.conversations() })
      } catch (err) {
        void toast.error(errorText(t, err))
        return false
      }
    }
    const anchor = id ? lastStoredId() : null
    // Follow the branch through the anchor: the new message becomes its newest child.
    setLeafId(anchor)
    void sendMessage({
      conversationId: cid,
      anchorId: anchor,
      attachments: draft.attachments,
      body: {
        content: draft.content,
        parentId: anchor,
        ...(modelId ? { model: modelId } : {}),
        ...(draft.attachments.length ? { attachments: draft.attachments.map((a) => a.id) } : {}),
        ...(thinking && canThink(model) ? { thinking: true } : {}),
      },
    })
    if (!id) void navigate(`/c/${cid}`)
    return true
  }

  const actions: MessageActions = useMemo(
    () => ({
      onRegenerate: (m) => {
        if (!id || !m.parentId) return
        setLeafId(m.parentId)
        void regenerateMessage({
          conversationId: id,
          messageId: m.id,
          anchorId: m.parentId,
          body: { ...(modelId ? { model: modelId } : {}), ...(thinking && canThink(model) ? { thinking: true } : {}) },
        })
      },
      onEdit: (m, content) => {
        if (!id) return
        setLeafId(m.parentId)
        const attachments =
          m.parts?.map((p) => ({ id: p.fileId, name: p.name ?? '', mime: p.mime, size: 0, url: p.url })) ?? []
        void sendMessage({
          conversationId: id,
          anchorId: m.parentId,
          attachments,
          body: {
            content,
            parentId: m.parentId,
            ...(modelId ? { model: modelId } : {}),
            ...(attachments.length ? { attachments: attachments.map((a) => a.id) } : {}),
            ...(thinking && canThink(model) ? { thinking: true } : {}),
          },
        })
      },
      onSwitchBranch: (messageId) => setLeafId(messageId),
    }),
    [id, modelId, model, thinking],
  )

  const renderMessage = useCallback(
    (m: Message) => (
      <MessageItem
        message={m}
        actions={actions}
        busy={busy}
        live={liveIds.has(m.id)}
        dark={dark}
        modelName={m.model ? modelNames.get(m.model) : undefined}
      />
    ),
    [actions, busy, liveIds, dark, modelNames],
  )

  const notFound = conversation.error instanceof ApiError && conversation.error.status === 404
  const refused = turn && turn.phase === 'error' && !turn.assistant ? turn : undefined
  const name = user?.displayName || user?.username || user?.email || ''
  const loading = !!id && (messages.isPending || conversation.isPending)

  if (notFound) {
    return (
      <Flex flex={1} align="center" justify="center">
        <Result
          status="404"
          title={t('chat.notFound')}
          extra={
            <Button type="primary" onClick={() => void navigate('/')}>
              {t('chat.newChat')}
            </Button>
          }
        />
      </Flex>
    )
  }

  return (
    <Flex vertical style={{ flex: 1, minWidth: 0, minHeight: 0 }}>
      <Flex
        align="center"
        gap={8}
        style={{
          height: 48,
          flex: 'none',
          paddingInline: 12,
          borderBottom: `1px solid ${token.colorBorderSecondary}`,
          background: token.colorBgContainer,
        }}
      >
        {onOpenList && (
          <Button
            type="text"
            icon={<UnorderedListOutlined />}
            aria-label={t('chat.openList')}
            onClick={onOpenList}
            data-testid="open-conversations"
          />
        )}
        <ModelPicker models={models.data ?? []} value={modelId} onChange={chooseModel} loading={models.isPending} />
        <Typography.Text
          type="secondary"
          ellipsis
          style={{ flex: 1, minWidth: 0, textAlign: 'end' }}
          data-testid="conversation-title"
        >
          {conversation.data?.title}
        </Typography.Text>
      </Flex>

      {models.isError && (
        <div style={{ padding: 12 }}>
          <ErrorAlert error={models.error} />
        </div>
      )}

      {loading ? (
        <div style={{ flex: 1, maxWidth: CONTENT_WIDTH, width: '100%', margin: '0 auto', padding: 24 }}>
          <Skeleton active avatar paragraph={{ rows: 4 }} />
        </div>
      ) : messages.isError ? (
        <div style={{ flex: 1, padding: 24 }}>
          <ErrorAlert error={messages.error} />
        </div>
      ) : display.length === 0 ? (
        <Flex
          vertical
          align="center"
          justify="center"
          style={{ flex: 1, padding: 16, overflowY: 'auto' }}
          data-testid="chat-home"
        >
          <Welcome
            variant="borderless"
            // The greeting's one line would otherwise set the width; this keeps it to the column's.
            style={{ maxWidth: '100%' }}
            icon={<LogoMark size={48} />}
            title={
              // One line, cut with "…" (the whole greeting in the title): a name may be a long email address.
              <Typography.Title
                level={3}
                ellipsis
                title={t('chat.greeting', { name })}
                style={{ margin: 0 }}
                data-testid="greeting"
              >
                {t('chat.greeting', { name })}
              </Typography.Title>
            }
            description={t('chat.welcomeHint')}
          />
        </Flex>
      ) : (
        <MessageList
          messages={display}
          renderMessage={renderMessage}
          followKey={`${id ?? 'new'}|${turn?.anchorId ?? ''}|${turn?.kind ?? ''}|${messages.isSuccess}`}
          hasOlder={!!messages.hasNextPage}
          loadingOlder={messages.isFetchingNextPage}
          onLoadOlder={() => void messages.fetchNextPage()}
          maxWidth={CONTENT_WIDTH}
        />
      )}

      <div
        style={{
          flex: 'none',
          padding: '8px 12px 12px',
          maxWidth: CONTENT_WIDTH + 24,
          width: '100%',
          margin: '0 auto',
        }}
      >
        {refused?.error && (
          <Alert
            type="error"
            showIcon
            role="alert"
            style={{ marginBottom: 8 }}
            title={turnErrorText(t, refused.error)}
            closable={{ onClose: () => id && clearTurn(id) }}
            data-testid="send-error"
          />
        )}
        <Composer
          busy={busy}
          canAttach={canSee(model)}
          canThink={canThink(model)}
          thinking={thinking}
          onThinkingChange={setThinking}
          onSend={send}
          onStop={stop}
          restore={refused?.draft}
        />
        <Typography.Text type="secondary" style={{ display: 'block', textAlign: 'center', fontSize: 12, marginTop: 6 }}>
          {model?.emulated ? t('chat.emulatedFooter') : t('chat.footer')}
        </Typography.Text>
      </div>
    </Flex>
  )
}
