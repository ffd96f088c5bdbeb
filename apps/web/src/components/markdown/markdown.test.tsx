import type { Element, Root } from 'hast'
import { renderToStaticMarkup } from 'react-dom/server'
import ReactMarkdown from 'react-markdown'
import { describe, expect, it } from 'vitest'
import { Markdown, REHYPE_PLUGINS, REMARK_PLUGINS, safeUrl } from './Markdown'

const render = (text: string) => renderToStaticMarkup(<Markdown text={text} />)

/** Every attribute name on a real element (text is escaped, so `<` only opens tags), lowercased. */
const attributeNames = (html: string) =>
  [...html.matchAll(/<[a-zA-Z][^>]*>/g)].flatMap((tag) =>
    [...tag[0].matchAll(/\s([a-zA-Z_:][-a-zA-Z0-9_:.]*)=/g)].map((m) => m[1]!.toLowerCase()),
  )

/** Every href value in the markup. */
const hrefs = (html: string) => [...html.matchAll(/href="([^"]*)"/g)].map((m) => m[1]!)

describe('Markdown (SECURITY E1: content from users and models is inert)', () => {
  it('shows a <script> as text and never emits a script element', () => {
    const html = render('Hello <script>alert(1)</script>\n\n<script src="https://evil.example/x.js"></script>')
    expect(html).not.toMatch(/<script/i)
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;')
  })

  it('keeps <img onerror> and other raw HTML as visible text, with no element or handler', () => {
    const html = render(
      '<img src=x onerror="alert(1)">\n\ntext <b onclick="alert(2)">bold</b> <iframe src="https://evil.example"></iframe>',
    )
    expect(html).not.toMatch(/<img|<iframe|<b>|<b /i)
    expect(attributeNames(html).filter((name) => name.startsWith('on'))).toEqual([])
    expect(html).toContain('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;')
  })

  it('drops javascript:, data: and vbscript: links, keeping their text', () => {
    const html = render(
      '[a](javascript:alert(1)) [b](JaVaScRiPt:alert(1)) [c](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==) ' +
        '[d](vbscript:msgbox) [e]( javascript:alert(1)) <javascript:alert(1)> [f](&#106;avascript:alert(1))',
    )
    for (const href of hrefs(html)) expect(href).toMatch(/^(https?:|mailto:)/)
    expect(html).not.toMatch(/href="\s*(javascript|data|vbscript)/i)
    expect(html).toContain('>a<')
    expect(html).toContain('>d<')
  })

  it('opens web links in a new tab without access to this window', () => {
    const html = render('[docs](https://example.com/docs) and https://example.org and [mail](mailto:a@example.com)')
    expect(hrefs(html)).toEqual(['https://example.com/docs', 'https://example.org', 'mailto:a@example.com'])
    const anchors = html.match(/<a [^>]*>/g) ?? []
    expect(anchors).toHaveLength(3)
    for (const a of anchors) {
      expect(a).toContain('target="_blank"')
      expect(a).toContain('rel="noopener noreferrer nofollow"')
    }
  })

  it('shows markdown images as links instead of loading them, and drops data: images', () => {
    const html = render('![cat](https://example.com/cat.png) ![pixel](data:image/png;base64,iVBORw0KGgo=)')
    expect(html).not.toMatch(/<img/i)
    expect(hrefs(html)).toEqual(['https://example.com/cat.png'])
    expect(html).toContain('pixel')
  })

  it('typesets KaTeX math, inline and display, and keeps \\href inert', () => {
    const html = render(
      'Euler: $e^{i\\pi} + 1 = 0$\n\n$$\n\\frac{a}{b} = \\sqrt{x^2}\n$$\n\n$\\href{javascript:alert(1)}{click}$',
    )
    expect(html).toContain('class="katex"')
    expect(html).toContain('class="katex-display"')
    expect(html).toContain('<math')
    expect(html).toContain('<mfrac>')
    expect(html).not.toMatch(/href="javascript/i)
    expect(attributeNames(html).filter((name) => name.startsWith('on'))).toEqual([])
  })

  it('renders GFM tables, strikethrough and task lists', () => {
    const html = render('| 模型 | 价格 |\n| --- | ---: |\n| Qwen | ¥0.8 |\n\n~~old~~\n\n- [x] done')
    expect(html).toContain('<table>')
    expect(html).toContain('<th>模型</th>')
    expect(html).toMatch(/<td[^>]*>¥0.8<\/td>/)
    expect(html).toContain('<del>old</del>')
    expect(html).toMatch(/<input[^>]*type="checkbox"/)
  })

  it('keeps single line breaks, as chat text expects', () => {
    expect(render('第一行\n第二行\n\n新段落')).toBe(
      '<div class="qiao-md"><p>第一行<br/>\n第二行</p>\n<p>新段落</p></div>',
    )
  })

  it('renders fenced code as a code block with its language and the code as text', () => {
    const html = render('```ts\nconst a = "<script>alert(1)</script>"\n```')
    expect(html).toContain('data-language="ts"')
    expect(html).toContain('const a = &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;')
    expect(html).not.toMatch(/<script/i)
  })
})

describe('the sanitiser at the end of the pipeline', () => {
  // Hostile elements injected into the tree before KaTeX and the sanitiser, as a buggy or
  // compromised earlier step would produce them: the allow-list must strip every one.
  const el = (tagName: string, properties: Element['properties'], text = ''): Element => ({
    type: 'element',
    tagName,
    properties,
    children: text ? [{ type: 'text', value: text }] : [],
  })
  const injectHostile = () => (tree: Root) => {
    tree.children.push(
      el('script', {}, 'alert(1)'),
      el('img', { src: 'x', onError: 'alert(1)' }),
      el('a', { href: 'javascript:alert(1)' }, 'js link'),
      el('a', { href: 'data:text/html,<script>alert(1)</script>' }, 'data link'),
      el('span', { onClick: 'alert(1)', className: ['katex'] }, 'span'),
      el('svg', { onLoad: 'alert(1)', width: '10' }),
      el('iframe', { src: 'https://evil.example' }),
      el('code', { className: ['language-ts', 'ant-modal-mask'] }, 'code'),
    )
  }

  it('removes scripts, handlers, frames, dangerous URLs and foreign classes', () => {
    const html = renderToStaticMarkup(
      <ReactMarkdown remarkPlugins={REMARK_PLUGINS} rehypePlugins={[injectHostile, ...REHYPE_PLUGINS]}>
        {'hello'}
      </ReactMarkdown>,
    )
    expect(html).toContain('js link')
    expect(html).not.toMatch(/<script|<iframe/i)
    expect(attributeNames(html).filter((name) => name.startsWith('on'))).toEqual([])
    expect(html).not.toMatch(/href="(javascript|data):/i)
    expect(html).not.toContain('ant-modal-mask')
    expect(html).toContain('class="katex"')
  })
})

describe('safeUrl', () => {
  it('keeps only http(s) and mailto', () => {
    expect(safeUrl('https://example.com')).toBe('https://example.com')
    expect(safeUrl('mailto:a@b.c')).toBe('mailto:a@b.c')
    for (const bad of [
      'javascript:alert(1)',
      ' JAVASCRIPT:alert(1)',
      'data:text/html,x',
      '//evil.example',
      '/api/auth/logout',
      'vbscript:x',
    ]) {
      expect(safeUrl(bad), bad).toBe('')
    }
  })
})
