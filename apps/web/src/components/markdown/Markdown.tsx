import 'katex/dist/katex.min.css'
import './markdown.css'
import type { Element, ElementContent } from 'hast'
import type { Root as MdRoot, RootContent as MdContent } from 'mdast'
import { memo, type ReactNode } from 'react'
import ReactMarkdown, { type Components, type Options } from 'react-markdown'
import rehypeKatex from 'rehype-katex'
import rehypeSanitize from 'rehype-sanitize'
import remarkGfm from 'remark-gfm'
import remarkMath from 'remark-math'
import { CodeBlock } from './CodeBlock'
import { markdownSchema } from './sanitize-schema'

/**
 * Markdown from users and models (SECURITY E1). Raw HTML is never parsed as HTML: it stays
 * visible text. Math is typeset by KaTeX (with `trust` off, so \href and friends stay inert), and
 * THEN the whole tree is sanitised against an allow-list, so nothing KaTeX or the parser
 * produced can carry a script, an event handler or a dangerous URL. Links open in a new tab
 * without access to this window; images are shown as links and never loaded automatically.
 */

/** Turns raw HTML in the markdown into plain text: `<b>x</b>` is shown, not rendered. */
function remarkHtmlAsText() {
  const visit = (node: MdRoot | MdContent): void => {
    if (!('children' in node)) return
    const children: MdContent[] = node.children
    children.forEach((child, i) => {
      if (child.type === 'html') children[i] = { type: 'text', value: child.value }
      else visit(child)
    })
  }
  return (tree: MdRoot) => visit(tree)
}

/**
 * A single newline is a line break, as people (and most Chinese-language models) expect in chat;
 * strict CommonMark would join the lines into one paragraph.
 */
function remarkSoftBreaks() {
  const visit = (node: MdRoot | MdContent): void => {
    if (!('children' in node)) return
    const out: MdContent[] = []
    for (const child of node.children as MdContent[]) {
      if (child.type === 'text' && child.value.includes('\n')) {
        child.value.split('\n').forEach((part, i) => {
          if (i > 0) out.push({ type: 'break' })
          if (part) out.push({ type: 'text', value: part })
        })
      } else {
        visit(child)
        out.push(child)
      }
    }
    ;(node as { children: MdContent[] }).children = out
  }
  return (tree: MdRoot) => visit(tree)
}

const SAFE_URL = /^(https?:\/\/|mailto:)/i

/** Only web and mail links survive; everything else (javascript:, data:, vbscript:, relative tricks) becomes empty. */
export function safeUrl(url: string): string {
  const trimmed = url.trim()
  return SAFE_URL.test(trimmed) ? trimmed : ''
}

const KATEX_OPTIONS = { throwOnError: false, strict: 'ignore', trust: false, maxSize: 20, maxExpand: 500 } as const

function textOf(node: ElementContent | Element): string {
  if (node.type === 'text') return node.value
  if (node.type === 'element') return node.children.map(textOf).join('')
  return ''
}

function makeComponents(dark: boolean): Components {
  return {
    a: ({ href, children }) =>
      href ? (
        <a href={href} target="_blank" rel="noopener noreferrer nofollow">
          {children}
        </a>
      ) : (
        <span className="qiao-md-deadlink">{children}</span>
      ),
    img: ({ src, alt }) => {
      const label = alt || (typeof src === 'string' ? src : '')
      return typeof src === 'string' && src ? (
        <a href={src} target="_blank" rel="noopener noreferrer nofollow" className="qiao-md-imagelink">
          🖼 {label}
        </a>
      ) : (
        <span>{label}</span>
      )
    },
    pre: ({ node, children }) => {
      const code = node?.children.find((c): c is Element => c.type === 'element' && c.tagName === 'code')
      if (!code) return <pre>{children}</pre>
      const classes = code.properties.className
      const language = (Array.isArray(classes) ? classes : [])
        .map(String)
        .find((c) => c.startsWith('language-'))
        ?.slice('language-'.length)
      return <CodeBlock code={textOf(code).replace(/\n$/, '')} language={language} dark={dark} />
    },
    table: ({ children }) => (
      <div className="qiao-md-table">
        <table>{children}</table>
      </div>
    ),
  }
}

/** KaTeX first, the sanitiser last: whatever earlier steps produced passes the allow-list. */
export const REHYPE_PLUGINS: NonNullable<Options['rehypePlugins']> = [
  [rehypeKatex, KATEX_OPTIONS],
  [rehypeSanitize, markdownSchema],
]
export const REMARK_PLUGINS: NonNullable<Options['remarkPlugins']> = [
  remarkGfm,
  remarkMath,
  remarkHtmlAsText,
  remarkSoftBreaks,
]

const LIGHT = makeComponents(false)
const DARK = makeComponents(true)

export const Markdown = memo(function Markdown({ text, dark = false }: { text: string; dark?: boolean }): ReactNode {
  return (
    <div className="qiao-md">
      <ReactMarkdown
        skipHtml
        remarkPlugins={REMARK_PLUGINS}
        rehypePlugins={REHYPE_PLUGINS}
        urlTransform={safeUrl}
        components={dark ? DARK : LIGHT}
      >
        {text}
      </ReactMarkdown>
    </div>
  )
})
