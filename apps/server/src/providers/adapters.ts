/** Provider kind → adapter. The registry picks from here; tests may override single entries. */
import { dashScopeAdapter } from './dashscope'
import { moonshotAdapter } from './moonshot'
import { openAICompatibleAdapter } from './openai-compatible'
import type { ProviderAdapter, ProviderKind } from './types'

export const ADAPTERS: Readonly<Record<ProviderKind, ProviderAdapter>> = Object.freeze({
  dashscope: dashScopeAdapter,
  moonshot: moonshotAdapter,
  'openai-compatible': openAICompatibleAdapter,
})
