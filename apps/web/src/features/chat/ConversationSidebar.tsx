import {
  DeleteOutlined,
  EditOutlined,
  InboxOutlined,
  MoreOutlined,
  PlusOutlined,
  PushpinFilled,
  PushpinOutlined,
  RollbackOutlined,
  SearchOutlined,
} from '@ant-design/icons'
import { useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query'
import type { Conversation } from '@qiao/shared'
import { App, Button, Dropdown, Empty, Flex, Input, Modal, Skeleton, Typography, theme, type MenuProps } from 'antd'
import { useEffect, useMemo, useState } from 'react'
import { useTranslation } from 'react-i18next'
import { useNavigate } from 'react-router-dom'
import { ErrorAlert } from '../../components/ErrorAlert'
import { errorText } from '../../components/error-text'
import { chatApi, chatKeys, type ConversationFilter } from './chat-api'
import { groupConversations } from './chat-format'

function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value)
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), ms)
    return () => clearTimeout(timer)
  }, [value, ms])
  return debounced
}

/** The conversation list: search, sections by recency, and the actions on each conversation. */
export function ConversationSidebar({
  activeId,
  onNavigate,
}: {
  activeId: string | undefined
  onNavigate?: () => void
}) {
  const { t } = useTranslation()
  const { token } = theme.useToken()
  const { message, modal } = App.useApp()
  const navigate = useNavigate()
  const queryClient = useQueryClient()
  const [search, setSearch] = useState('')
  const [archived, setArchived] = useState(false)
  const [renaming, setRenaming] = useState<{ id: string; title: string } | undefined>()
  const q = useDebounced(search, 300)
  const filter: ConversationFilter = useMemo(() => ({ q, archived }), [q, archived])

  const list = useInfiniteQuery({
    queryKey: chatKeys.conversations(filter),
    queryFn: ({ pageParam }) => chatApi.conversations(filter, pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  })
  const items = useMemo(() => list.data?.pages.flatMap((p) => p.items) ?? [], [list.data])
  const groups = useMemo(() => groupConversations(items), [items])

  const go = (path: string) => {
    onNavigate?.()
    void navigate(path)
  }

  const refresh = () => queryClient.invalidateQueries({ queryKey: chatKeys.conversations() })
  const update = useMutation({
    mutationFn: ({ id, body }: { id: string; body: Parameters<typeof chatApi.updateConversation>[1] }) =>
      chatApi.updateConversation(id, body),
    onSuccess: (c) => {
      queryClient.setQueryData(chatKeys.conversation(c.id), c)
      void refresh()
    },
    onError: (err) => void message.error(errorText(t, err)),
  })
  const remove = useMutation({
    mutationFn: (id: string) => chatApi.deleteConversation(id),
    onSuccess: (_v, id) => {
      void refresh()
      queryClient.removeQueries({ queryKey: chatKeys.conversation(id) })
      queryClient.removeQueries({ queryKey: chatKeys.messages(id) })
      if (id === activeId) go('/')
    },
    onError: (err) => void message.error(errorText(t, err)),
  })

  const menuFor = (c: Conversation): MenuProps => ({
    items: [
      {
        key: 'pin',
        icon: c.pinned ? <PushpinFilled /> : <PushpinOutlined />,
        label: c.pinned ? t('chat.unpin') : t('chat.pin'),
      },
      { key: 'rename', icon: <EditOutlined />, label: t('chat.rename') },
      {
        key: 'archive',
        icon: c.archived ? <RollbackOutlined /> : <InboxOutlined />,
        label: c.archived ? t('chat.unarchive') : t('chat.archive'),
      },
      { type: 'divider' },
      { key: 'delete', icon: <DeleteOutlined />, danger: true, label: t('chat.delete') },
    ],
    onClick: ({ key, domEvent }) => {
      domEvent.stopPropagation()
      if (key === 'pin') update.mutate({ id: c.id, body: { pinned: !c.pinned } })
      else if (key === 'rename') setRenaming({ id: c.id, title: c.title })
      else if (key === 'archive') {
        update.mutate({ id: c.id, body: { archived: !c.archived } })
        if (!c.archived && c.id === activeId) go('/')
      } else if (key === 'delete') {
        void modal.confirm({
          title: t('chat.deleteConfirm'),
          content: c.title,
          okText: t('chat.delete'),
          okButtonProps: { danger: true },
          cancelText: t('chat.cancel'),
          onOk: () => remove.mutateAsync(c.id),
        })
      }
    },
  })

  const groupLabel = {
    pinned: t('chat.groupPinned'),
    today: t('chat.groupToday'),
    week: t('chat.groupWeek'),
    earlier: t('chat.groupEarlier'),
  }

  return (
    <Flex vertical style={{ height: '100%', minHeight: 0 }} data-testid="conversation-sidebar">
      <Flex vertical gap={8} style={{ padding: 12 }}>
        <Button type="primary" icon={<PlusOutlined />} block onClick={() => go('/')} data-testid="new-chat">
          {t('chat.newChat')}
        </Button>
        <Input
          allowClear
          prefix={<SearchOutlined style={{ color: token.colorTextQuaternary }} />}
          placeholder={t('chat.search')}
          aria-label={t('chat.search')}
          value={search}
          onChange={(e) => setSearch(e.target.value)}
          data-testid="conversation-search"
        />
      </Flex>
      <nav aria-label={t('chat.conversations')} style={{ flex: 1, minHeight: 0, overflowY: 'auto', paddingInline: 8 }}>
        {archived && (
          <Typography.Text type="secondary" style={{ display: 'block', padding: '0 8px 8px', fontSize: 12 }}>
            {t('chat.archivedTitle')}
          </Typography.Text>
        )}
        {list.isPending ? (
          <div style={{ padding: 8 }} data-testid="conversations-loading">
            <Skeleton active title={false} paragraph={{ rows: 6, width: ['90%', '70%', '80%', '60%', '85%', '75%'] }} />
          </div>
        ) : list.isError ? (
          <div style={{ padding: 8 }}>
            <ErrorAlert error={list.error} />
          </div>
        ) : items.length === 0 ? (
          <Empty
            image={Empty.PRESENTED_IMAGE_SIMPLE}
            description={q ? t('chat.noMatches') : archived ? t('chat.noArchived') : t('chat.noConversations')}
            style={{ marginTop: 32 }}
          />
        ) : (
          groups.map(({ group, items: convos }) => (
            <section key={group} style={{ marginBottom: 8 }}>
              <Typography.Text type="secondary" style={{ display: 'block', fontSize: 12, padding: '6px 8px' }}>
                {groupLabel[group]}
              </Typography.Text>
              <ul style={{ listStyle: 'none', margin: 0, padding: 0 }}>
                {convos.map((c) => {
                  const active = c.id === activeId
                  return (
                    <li key={c.id}>
                      <Flex
                        align="center"
                        className="qiao-convo"
                        data-testid="conversation-item"
                        data-active={active}
                        style={{
                          borderRadius: 8,
                          background: active ? token.controlItemBgActive : undefined,
                          color: active ? token.colorPrimaryText : undefined,
                        }}
                      >
                        <a
                          href={`/c/${c.id}`}
                          aria-current={active ? 'page' : undefined}
                          onClick={(e) => {
                            e.preventDefault()
                            go(`/c/${c.id}`)
                          }}
                          style={{ flex: 1, minWidth: 0, padding: '8px 10px', color: 'inherit' }}
                        >
                          <Flex align="center" gap={6}>
                            {c.pinned && <PushpinFilled style={{ fontSize: 12, color: token.colorTextTertiary }} />}
                            <Typography.Text ellipsis style={{ color: 'inherit' }}>
                              {c.title}
                            </Typography.Text>
                          </Flex>
                        </a>
                        <Dropdown trigger={['click']} menu={menuFor(c)}>
                          <Button
                            type="text"
                            size="small"
                            icon={<MoreOutlined />}
                            aria-label={t('chat.actions')}
                            className="qiao-convo-more"
                            data-testid="conversation-actions"
                          />
                        </Dropdown>
                      </Flex>
                    </li>
                  )
                })}
              </ul>
            </section>
          ))
        )}
        {list.hasNextPage && (
          <Flex justify="center" style={{ padding: 8 }}>
            <Button size="small" loading={list.isFetchingNextPage} onClick={() => void list.fetchNextPage()}>
              {t('chat.loadMore')}
            </Button>
          </Flex>
        )}
      </nav>
      <div style={{ padding: 8, borderTop: `1px solid ${token.colorBorderSecondary}` }}>
        <Button
          type="text"
          block
          icon={archived ? <RollbackOutlined /> : <InboxOutlined />}
          onClick={() => setArchived((a) => !a)}
          style={{ justifyContent: 'flex-start' }}
        >
          {archived ? t('chat.backToConversations') : t('chat.showArchived')}
        </Button>
      </div>
      <RenameModal
        target={renaming}
        onClose={() => setRenaming(undefined)}
        onSave={(id, title) => update.mutateAsync({ id, body: { title } }).then(() => setRenaming(undefined))}
      />
    </Flex>
  )
}

function RenameModal({
  target,
  onClose,
  onSave,
}: {
  target: { id: string; title: string } | undefined
  onClose: () => void
  onSave: (id: string, title: string) => Promise<unknown>
}) {
  const { t } = useTranslation()
  const [title, setTitle] = useState('')
  const [saving, setSaving] = useState(false)
  const [shown, setShown] = useState(target)
  if (target !== shown) {
    setShown(target)
    if (target) setTitle(target.title)
  }
  const save = () => {
    if (!target || !title.trim()) return
    setSaving(true)
    onSave(target.id, title.trim())
      .catch(() => undefined)
      .finally(() => setSaving(false))
  }
  return (
    <Modal
      open={!!target}
      title={t('chat.rename')}
      onCancel={onClose}
      onOk={save}
      okText={t('chat.save')}
      cancelText={t('chat.cancel')}
      confirmLoading={saving}
      okButtonProps={{ disabled: !title.trim() }}
      destroyOnHidden
    >
      <Input
        value={title}
        maxLength={200}
        onChange={(e) => setTitle(e.target.value)}
        onPressEnter={save}
        autoFocus
        aria-label={t('chat.rename')}
        data-testid="rename-input"
      />
    </Modal>
  )
}
