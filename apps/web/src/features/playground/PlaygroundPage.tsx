import { SendOutlined, StopOutlined, ThunderboltOutlined } from '@ant-design/icons'
import { Alert, Button, Card, Col, Flex, Input, Row, Select, Switch, Tabs, Typography, theme } from 'antd'
import { useMemo, useRef, useState } from 'react'
import { useTranslation } from 'react-i18next'
import { usePageTitle } from '../../components/usePageTitle'
import { expiryFrom, useCreateApiKey, useUsableModels } from '../apikeys/apikeys-api'
import { modelLabel } from '../chat/chat-format'
import { curlSnippet, nodeSnippet, parseSseText, pythonSnippet, requestBody, type PlaygroundRequest } from './snippets'

interface Outcome {
  text: string
  reasoning: string
  /** The whole JSON answer, or every streamed chunk. */
  raw: unknown
  status?: number
  error?: string
}

/**
 * The API playground: calls Qiao's own /v1 the way an API client would (with a personal key, not
 * the session), so what works here works from curl, Python or Node unchanged.
 */
export function PlaygroundPage() {
  const { t } = useTranslation()
  const { token } = theme.useToken()
  usePageTitle(t('playground.title'))
  const models = useUsableModels()
  const createKey = useCreateApiKey()
  const chatModels = (models.data ?? []).filter((m) => m.kind === 'chat' || m.kind === 'vision')
  const [model, setModel] = useState<string | undefined>()
  const [key, setKey] = useState('')
  const [system, setSystem] = useState('')
  const [prompt, setPrompt] = useState('')
  const [stream, setStream] = useState(true)
  const [running, setRunning] = useState(false)
  const [outcome, setOutcome] = useState<Outcome | undefined>()
  const abort = useRef<AbortController | undefined>(undefined)

  const chosen = model ?? chatModels[0]?.id ?? ''
  const baseUrl = `${window.location.origin}/v1`
  const request: PlaygroundRequest = useMemo(
    () => ({
      baseUrl,
      model: chosen,
      messages: [...(system.trim() ? [{ role: 'system' as const, content: system }] : []), { role: 'user' as const, content: prompt || t('playground.samplePrompt') }],
      stream,
    }),
    [baseUrl, chosen, system, prompt, stream, t],
  )

  const temporaryKey = async () => {
    const created = await createKey.mutateAsync({ name: t('playground.temporaryKeyName'), expiresAt: expiryFrom(1) })
    setKey(created.secret)
  }

  const send = async () => {
    const controller = new AbortController()
    abort.current = controller
    setRunning(true)
    const result: Outcome = { text: '', reasoning: '', raw: stream ? [] : undefined }
    setOutcome({ ...result })
    try {
      const res = await fetch(`${baseUrl}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key.trim()}` },
        body: JSON.stringify(requestBody(request)),
        signal: controller.signal,
        credentials: 'omit',
      })
      result.status = res.status
      if (!res.ok || !stream || !res.body) {
        const json = (await res.json().catch(() => null)) as Record<string, unknown> | null
        result.raw = json
        if (!res.ok) result.error = (json?.error as { message?: string } | undefined)?.message ?? res.statusText
        else {
          const message = (json?.choices as Array<{ message?: { content?: string; reasoning_content?: string } }> | undefined)?.[0]?.message
          result.text = message?.content ?? ''
          result.reasoning = message?.reasoning_content ?? ''
        }
        setOutcome({ ...result })
        return
      }
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
      const chunks: unknown[] = []
      let buffer = ''
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        const parsed = parseSseText(buffer + value)
        buffer = parsed.rest
        for (const item of parsed.items) {
          if ('error' in item) result.error = item.error.message
          if ('chunk' in item) {
            chunks.push(item.chunk)
            const delta = (item.chunk.choices as Array<{ delta?: { content?: string; reasoning_content?: string } }> | undefined)?.[0]?.delta
            result.text += delta?.content ?? ''
            result.reasoning += delta?.reasoning_content ?? ''
          }
        }
        setOutcome({ ...result, raw: [...chunks] })
      }
    } catch (err) {
      if (!controller.signal.aborted) result.error = err instanceof Error ? err.message : String(err)
      setOutcome({ ...result })
    } finally {
      setRunning(false)
      abort.current = undefined
    }
  }

  const code = (text: string, testId: string) => (
    <Typography.Paragraph copyable={{ text }} style={{ margin: 0 }}>
      <pre data-testid={testId} style={{ margin: 0, padding: 12, background: token.colorFillTertiary, borderRadius: token.borderRadius, overflowX: 'auto', fontSize: token.fontSizeSM }}>{text}</pre>
    </Typography.Paragraph>
  )

  return (
    <Flex vertical gap={16} style={{ maxWidth: 1200, margin: '0 auto' }}>
      <div>
        <Typography.Title level={3} style={{ marginTop: 0 }}>
          {t('playground.title')}
        </Typography.Title>
        <Typography.Text type="secondary">{t('playground.intro', { baseUrl })}</Typography.Text>
      </div>
      <Row gutter={[16, 16]}>
        <Col xs={24} lg={10}>
          <Card>
            <Flex vertical gap={12}>
              <label>
                <Typography.Text strong>{t('playground.model')}</Typography.Text>
                <Select
                  style={{ width: '100%', marginTop: 4 }}
                  value={chosen || undefined}
                  loading={models.isPending}
                  onChange={setModel}
                  // Two dozen models: typing part of a name or id is quicker than scrolling.
                  showSearch={{ optionFilterProp: 'label' }}
                  options={chatModels.map((m) => ({ value: m.id, label: `${modelLabel(m, t)} · ${m.id}` }))}
                  aria-label={t('playground.model')}
                />
              </label>
              <div>
                <Typography.Text strong>{t('playground.key')}</Typography.Text>
                <Flex gap={8} style={{ marginTop: 4 }}>
                  <Input.Password value={key} onChange={(e) => setKey(e.target.value)} placeholder="sk-qiao-…" autoComplete="off" aria-label={t('playground.key')} />
                  <Button icon={<ThunderboltOutlined />} loading={createKey.isPending} onClick={() => void temporaryKey().catch(() => undefined)}>
                    {t('playground.temporaryKey')}
                  </Button>
                </Flex>
                <Typography.Text type="secondary" style={{ fontSize: token.fontSizeSM }}>
                  {t('playground.keyHint')}
                </Typography.Text>
              </div>
              <label>
                <Typography.Text strong>{t('playground.system')}</Typography.Text>
                <Input.TextArea value={system} onChange={(e) => setSystem(e.target.value)} autoSize={{ minRows: 1, maxRows: 4 }} style={{ marginTop: 4 }} />
              </label>
              <label>
                <Typography.Text strong>{t('playground.message')}</Typography.Text>
                <Input.TextArea
                  value={prompt}
                  onChange={(e) => setPrompt(e.target.value)}
                  placeholder={t('playground.samplePrompt')}
                  autoSize={{ minRows: 3, maxRows: 10 }}
                  style={{ marginTop: 4 }}
                />
              </label>
              <Flex justify="space-between" align="center">
                <Flex gap={8} align="center">
                  <Switch checked={stream} onChange={setStream} aria-label={t('playground.stream')} />
                  <Typography.Text>{t('playground.stream')}</Typography.Text>
                </Flex>
                {running ? (
                  <Button icon={<StopOutlined />} onClick={() => abort.current?.abort()}>
                    {t('playground.stop')}
                  </Button>
                ) : (
                  <Button type="primary" icon={<SendOutlined />} disabled={!key.trim() || !chosen} onClick={() => void send()}>
                    {t('playground.send')}
                  </Button>
                )}
              </Flex>
            </Flex>
          </Card>
        </Col>
        <Col xs={24} lg={14}>
          <Card>
            <Tabs
              items={[
                {
                  key: 'answer',
                  label: t('playground.answer'),
                  children: (
                    <Flex vertical gap={8} data-testid="playground-answer">
                      {outcome?.error && <Alert type="error" showIcon title={outcome.status ? `${outcome.status} · ${outcome.error}` : outcome.error} />}
                      {outcome?.reasoning && (
                        <Typography.Paragraph type="secondary" style={{ whiteSpace: 'pre-wrap', margin: 0 }}>
                          {outcome.reasoning}
                        </Typography.Paragraph>
                      )}
                      <Typography.Paragraph style={{ whiteSpace: 'pre-wrap', margin: 0, minHeight: 80 }} data-testid="playground-answer-text">
                        {outcome?.text || (running ? '…' : outcome ? '' : t('playground.nothingYet'))}
                      </Typography.Paragraph>
                    </Flex>
                  ),
                },
                { key: 'raw', label: t('playground.raw'), children: code(outcome?.raw === undefined ? '' : JSON.stringify(outcome.raw, null, 2), 'playground-raw') },
                { key: 'curl', label: 'curl', children: code(curlSnippet(request), 'playground-snippet-curl') },
                { key: 'python', label: 'Python', children: code(pythonSnippet(request), 'playground-snippet-Python') },
                { key: 'node', label: 'Node.js', children: code(nodeSnippet(request), 'playground-snippet-Node.js') },
              ]}
            />
            <Typography.Paragraph type="secondary" style={{ fontSize: token.fontSizeSM, margin: '12px 0 0' }}>
              {t('playground.snippetHint')}
            </Typography.Paragraph>
          </Card>
        </Col>
      </Row>
    </Flex>
  )
}
