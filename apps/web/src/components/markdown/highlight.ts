import type { HighlighterCore, ThemedToken } from 'shiki/core'

/**
 * Syntax highlighting with Shiki, loaded on demand: the core, the JavaScript regex engine (no
 * WebAssembly, so the CSP needs no 'wasm-unsafe-eval') and each grammar as its own chunk the
 * first time a code block in that language appears. Tokens come back as data and are rendered
 * as React elements — never as an HTML string.
 */

type Loader = () => Promise<unknown>

const GRAMMARS: Record<string, Loader> = {
  javascript: () => import('shiki/langs/javascript.mjs'),
  typescript: () => import('shiki/langs/typescript.mjs'),
  jsx: () => import('shiki/langs/jsx.mjs'),
  tsx: () => import('shiki/langs/tsx.mjs'),
  json: () => import('shiki/langs/json.mjs'),
  python: () => import('shiki/langs/python.mjs'),
  bash: () => import('shiki/langs/bash.mjs'),
  go: () => import('shiki/langs/go.mjs'),
  java: () => import('shiki/langs/java.mjs'),
  c: () => import('shiki/langs/c.mjs'),
  cpp: () => import('shiki/langs/cpp.mjs'),
  rust: () => import('shiki/langs/rust.mjs'),
  sql: () => import('shiki/langs/sql.mjs'),
  html: () => import('shiki/langs/html.mjs'),
  css: () => import('shiki/langs/css.mjs'),
  yaml: () => import('shiki/langs/yaml.mjs'),
  markdown: () => import('shiki/langs/markdown.mjs'),
  diff: () => import('shiki/langs/diff.mjs'),
}

const ALIASES: Record<string, string> = {
  js: 'javascript',
  mjs: 'javascript',
  cjs: 'javascript',
  ts: 'typescript',
  sh: 'bash',
  shell: 'bash',
  zsh: 'bash',
  console: 'bash',
  py: 'python',
  golang: 'go',
  'c++': 'cpp',
  rs: 'rust',
  yml: 'yaml',
  md: 'markdown',
  jsonc: 'json',
  xml: 'html',
}

/** The grammar name for a fence's language, or undefined when we do not highlight it. */
export function grammarFor(language: string | undefined): string | undefined {
  if (!language) return undefined
  const name = language.toLowerCase()
  const resolved = ALIASES[name] ?? name
  return resolved in GRAMMARS ? resolved : undefined
}

const THEMES = { light: 'github-light', dark: 'github-dark' } as const

let core: Promise<HighlighterCore> | undefined
const loaded = new Map<string, Promise<void>>()

function highlighter(): Promise<HighlighterCore> {
  core ??= Promise.all([import('shiki/core'), import('shiki/engine/javascript')]).then(([shiki, engine]) =>
    shiki.createHighlighterCore({
      themes: [import('shiki/themes/github-light.mjs'), import('shiki/themes/github-dark.mjs')],
      langs: [],
      engine: engine.createJavaScriptRegexEngine(),
    }),
  )
  return core
}

export interface Highlighted {
  lines: ThemedToken[][]
  background: string
}

/** Tokens for `code`, or undefined when the language is not one we highlight. */
export async function highlight(
  code: string,
  language: string | undefined,
  dark: boolean,
): Promise<Highlighted | undefined> {
  const grammar = grammarFor(language)
  if (!grammar) return undefined
  const shiki = await highlighter()
  let ready = loaded.get(grammar)
  if (!ready) {
    ready = GRAMMARS[grammar]!().then((mod) =>
      shiki.loadLanguage((mod as { default: Parameters<HighlighterCore['loadLanguage']>[0] }).default),
    )
    loaded.set(grammar, ready)
  }
  await ready
  const result = shiki.codeToTokens(code, { lang: grammar, theme: dark ? THEMES.dark : THEMES.light })
  return { lines: result.tokens, background: result.bg ?? 'transparent' }
}
