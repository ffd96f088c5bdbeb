/**
 * Ready-to-copy client code for the request the playground sends. The key is never written into
 * a snippet: each one reads it from the QIAO_API_KEY environment variable, so a copied snippet
 * cannot leak it into a chat, a ticket or a repository.
 */

export interface PlaygroundRequest {
  baseUrl: string
  model: string
  messages: Array<{ role: 'system' | 'user'; content: string }>
  stream: boolean
}

export function requestBody(r: PlaygroundRequest): Record<string, unknown> {
  return {
    model: r.model,
    messages: r.messages,
    ...(r.stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  }
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

export function curlSnippet(r: PlaygroundRequest): string {
  return [
    `curl ${shellQuote(`${r.baseUrl}/chat/completions`)} \\`,
    `  -H "Authorization: Bearer $QIAO_API_KEY" \\`,
    `  -H 'Content-Type: application/json' \\`,
    ...(r.stream ? ['  -N \\'] : []),
    `  -d ${shellQuote(JSON.stringify(requestBody(r)))}`,
  ].join('\n')
}

export function pythonSnippet(r: PlaygroundRequest): string {
  const messages = JSON.stringify(r.messages, null, 4).replace(/\n/g, '\n    ')
  const head = [
    'import os',
    'from openai import OpenAI',
    '',
    `client = OpenAI(api_key=os.environ["QIAO_API_KEY"], base_url=${JSON.stringify(r.baseUrl)})`,
    '',
  ]
  if (r.stream) {
    return [
      ...head,
      'stream = client.chat.completions.create(',
      `    model=${JSON.stringify(r.model)},`,
      `    messages=${messages},`,
      '    stream=True,',
      ')',
      'for chunk in stream:',
      '    if chunk.choices and chunk.choices[0].delta.content:',
      '        print(chunk.choices[0].delta.content, end="", flush=True)',
    ].join('\n')
  }
  return [
    ...head,
    'completion = client.chat.completions.create(',
    `    model=${JSON.stringify(r.model)},`,
    `    messages=${messages},`,
    ')',
    'print(completion.choices[0].message.content)',
  ].join('\n')
}

export function nodeSnippet(r: PlaygroundRequest): string {
  const messages = JSON.stringify(r.messages, null, 2).replace(/\n/g, '\n  ')
  const head = [
    "import OpenAI from 'openai'",
    '',
    `const client = new OpenAI({ apiKey: process.env.QIAO_API_KEY, baseURL: ${JSON.stringify(r.baseUrl)} })`,
    '',
  ]
  if (r.stream) {
    return [
      ...head,
      'const stream = await client.chat.completions.create({',
      `  model: ${JSON.stringify(r.model)},`,
      `  messages: ${messages},`,
      '  stream: true,',
      '})',
      'for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta?.content ?? "")',
    ].join('\n')
  }
  return [
    ...head,
    'const completion = await client.chat.completions.create({',
    `  model: ${JSON.stringify(r.model)},`,
    `  messages: ${messages},`,
    '})',
    'console.log(completion.choices[0].message.content)',
  ].join('\n')
}

/** What one streamed `data:` line carries, as far as the playground shows it. */
export type StreamItem = { done: true } | { chunk: Record<string, unknown> } | { error: { message: string; code?: string | null } }

/**
 * Splits SSE text into items. Returns the parsed items and the unfinished rest, to be prefixed to
 * the next network chunk. Comments (`: ping`) are skipped.
 */
export function parseSseText(buffer: string): { items: StreamItem[]; rest: string } {
  const items: StreamItem[] = []
  const frames = buffer.split('\n\n')
  const rest = frames.pop() ?? ''
  for (const frame of frames) {
    const data = frame
      .split('\n')
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).trimStart())
      .join('\n')
    if (!data) continue
    if (data === '[DONE]') {
      items.push({ done: true })
      continue
    }
    try {
      const json = JSON.parse(data) as Record<string, unknown>
      if (json.error && typeof json.error === 'object') items.push({ error: json.error as { message: string; code?: string | null } })
      else items.push({ chunk: json })
    } catch {
      items.push({ error: { message: 'Malformed stream data' } })
    }
  }
  return { items, rest }
}
