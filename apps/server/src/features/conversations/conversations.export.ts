import type { Conversation, Message } from '@qiao/shared'

const ROLE_LABEL: Record<Message['role'], string> = { system: 'System', user: 'User', assistant: 'Assistant' }

/** One line of free text for a heading or list item: no newlines that would break the layout. */
const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim()

/** The current branch as a Markdown document: title, details, then each message with role, model and time. */
export function toMarkdown(conversation: Conversation, messages: Message[], exportedAt: string): string {
  const out: string[] = [`# ${oneLine(conversation.title)}`, '']
  if (conversation.model) out.push(`- Model: ${oneLine(conversation.model)}`)
  out.push(
    `- Created: ${conversation.createdAt}`,
    `- Updated: ${conversation.updatedAt}`,
    `- Exported: ${exportedAt}`,
    '',
  )
  if (conversation.systemPrompt) out.push('## System prompt', '', conversation.systemPrompt, '')
  for (const m of messages) {
    const model = m.role === 'assistant' && m.model ? ` (${oneLine(m.model)})` : ''
    out.push(`## ${ROLE_LABEL[m.role]}${model} · ${m.createdAt}`, '')
    if (m.content) out.push(m.content, '')
    for (const part of m.parts ?? []) out.push(`- Image: ${oneLine(part.name ?? part.fileId)} (${part.url})`)
    if (m.parts?.length) out.push('')
    if (m.status !== 'complete') out.push(`_Status: ${m.status}${m.error ? ` — ${oneLine(m.error.message)}` : ''}_`, '')
  }
  return out.join('\n')
}

/** The machine-readable export: the conversation and its current branch, in API shapes. */
export function toJsonExport(conversation: Conversation, messages: Message[], exportedAt: string) {
  return { format: 'qiao.conversation.v1', exportedAt, conversation, messages }
}
