import { CheckOutlined, CopyOutlined } from '@ant-design/icons'
import { Button, Tooltip } from 'antd'
import { memo, useEffect, useState } from 'react'
import { useTranslation } from 'react-i18next'
import { highlight, type Highlighted } from './highlight'

/** Copies text, reporting success for a moment; false when the browser refuses (no permission, not secure). */
export function useCopy(): [boolean, (text: string) => void] {
  const [copied, setCopied] = useState(false)
  useEffect(() => {
    if (!copied) return
    const timer = setTimeout(() => setCopied(false), 2000)
    return () => clearTimeout(timer)
  }, [copied])
  const copy = (text: string) => {
    navigator.clipboard?.writeText(text).then(
      () => setCopied(true),
      () => setCopied(false),
    )
  }
  return [copied, copy]
}

/**
 * A fenced code block: plain text first (and during streaming), Shiki colours once its grammar
 * has loaded, and a copy button.
 */
export const CodeBlock = memo(function CodeBlock({
  code,
  language,
  dark,
}: {
  code: string
  language?: string
  dark: boolean
}) {
  const { t } = useTranslation()
  const [copied, copy] = useCopy()
  const [colored, setColored] = useState<{ key: string; value: Highlighted } | undefined>()
  const key = `${dark ? 'd' : 'l'}:${language ?? ''}:${code}`

  useEffect(() => {
    let live = true
    // A short pause so a block still being streamed is not re-highlighted on every token.
    const timer = setTimeout(() => {
      highlight(code, language, dark).then(
        (value) => {
          if (live && value) setColored({ key, value })
        },
        () => undefined,
      )
    }, 150)
    return () => {
      live = false
      clearTimeout(timer)
    }
  }, [code, language, dark, key])

  const lines = colored?.key === key ? colored.value.lines : undefined
  return (
    <div className="qiao-md-code" data-language={language ?? ''}>
      <div className="qiao-md-code-bar">
        <span className="qiao-md-code-lang">{language || t('markdown.code')}</span>
        <Tooltip title={copied ? t('markdown.copied') : t('markdown.copyCode')}>
          <Button
            type="text"
            size="small"
            icon={copied ? <CheckOutlined /> : <CopyOutlined />}
            aria-label={t('markdown.copyCode')}
            onClick={() => copy(code)}
          />
        </Tooltip>
      </div>
      <pre>
        <code>
          {lines
            ? lines.map((line, i) => (
                <span key={i} className="qiao-md-line">
                  {line.map((token, j) => (
                    <span
                      key={j}
                      style={{ color: token.color, fontStyle: Number(token.fontStyle ?? 0) & 1 ? 'italic' : undefined }}
                    >
                      {token.content}
                    </span>
                  ))}
                  {i < lines.length - 1 ? '\n' : null}
                </span>
              ))
            : code}
        </code>
      </pre>
    </div>
  )
})
