/**
 * The plain OpenAI-compatible provider: any base URL that already includes its version prefix
 * (`https://host/v1`). It is nothing but the factory with the generic error table; OpenRouter-
 * and vLLM-style servers put reasoning in `reasoning`, so both field names are read.
 */
import { classifyOpenAIError, createErrorMapper } from './errors'
import { createOpenAICompatibleAdapter } from './factory'

export { createOpenAICompatibleAdapter, type OpenAICompatibleSpec, type OpenAICompatibleAdapter } from './factory'
export { createErrorMapper, parseUpstreamError, classifyOpenAIError, type ErrorClassifier } from './errors'

export const openAICompatibleAdapter = createOpenAICompatibleAdapter({
  kind: 'openai-compatible',
  reasoningFields: ['reasoning_content', 'reasoning'],
  mapError: createErrorMapper(classifyOpenAIError),
})
