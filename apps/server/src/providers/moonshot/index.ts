/**
 * Moonshot / Kimi: OpenAI-shaped, base URL including `/v1` (`https://api.moonshot.cn/v1`). Its
 * differences: the error table, usage sometimes inside the last choice (the shared normaliser
 * reads both places), reasoning in `reasoning_content` which thinking models need sent back, and
 * the `thinking:{type}` switch of kimi-k2.5 and later. Moonshot has no embeddings API.
 */
import { createOpenAICompatibleAdapter } from '../openai-compatible/factory'
import type { ChatRequest } from '../types'
import { mapMoonshotError } from './errors'

export { mapMoonshotError, classifyMoonshotError } from './errors'

/** kimi-k2.5, kimi-k2.6, …: the models that take an explicit thinking switch. */
const THINKING_SWITCH = /^kimi-k2\.\d/

export function moonshotThinking(req: ChatRequest): Record<string, unknown> {
  if (req.thinking === undefined || !THINKING_SWITCH.test(req.model)) return {}
  return { thinking: { type: req.thinking ? 'enabled' : 'disabled' } }
}

export const moonshotAdapter = createOpenAICompatibleAdapter({
  kind: 'moonshot',
  embeddingsPath: null,
  sendReasoningContent: true,
  extraBody: moonshotThinking,
  mapError: mapMoonshotError,
})
