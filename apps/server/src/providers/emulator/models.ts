/**
 * The models the emulator serves, with the capabilities its endpoints enforce. Other code may
 * seed channels from this list (the offline demo does); requests for any other model get the
 * protocol's "model not found" answer.
 */

export type EmulatorProvider = 'dashscope' | 'moonshot'
export type EmulatorModelKind = 'chat' | 'image' | 'embedding'
/** `optional`: thinking only when the request turns it on; `always`: every answer reasons first. */
export type ThinkingSupport = 'none' | 'optional' | 'always'

export interface EmulatorModel {
  readonly id: string
  readonly provider: EmulatorProvider
  readonly kind: EmulatorModelKind
  /** Accepts images in chat messages (content arrays with image parts). */
  readonly vision: boolean
  readonly thinking: ThinkingSupport
  /** Context window in tokens (chat models). */
  readonly contextTokens?: number
  /** Largest `max_tokens` accepted (chat models). */
  readonly maxOutputTokens?: number
  /** Accepted `dimensions`, the first being the default (embedding models). */
  readonly embeddingDimensions?: readonly number[]
  /** Longest accepted prompt in characters (image models). */
  readonly maxPromptChars?: number
}

const chat = (
  id: string,
  provider: EmulatorProvider,
  opts: { vision?: boolean; thinking?: ThinkingSupport; contextTokens: number; maxOutputTokens: number },
): EmulatorModel => ({ id, provider, kind: 'chat', vision: opts.vision ?? false, thinking: opts.thinking ?? 'none', contextTokens: opts.contextTokens, maxOutputTokens: opts.maxOutputTokens })

const image = (id: string, maxPromptChars: number): EmulatorModel => ({ id, provider: 'dashscope', kind: 'image', vision: false, thinking: 'none', maxPromptChars })

const embedding = (id: string, dims: readonly number[]): EmulatorModel => ({ id, provider: 'dashscope', kind: 'embedding', vision: false, thinking: 'none', embeddingDimensions: dims })

export const EMULATOR_MODELS: readonly EmulatorModel[] = [
  chat('qwen-turbo', 'dashscope', { thinking: 'optional', contextTokens: 131_072, maxOutputTokens: 16_384 }),
  chat('qwen-plus', 'dashscope', { thinking: 'optional', contextTokens: 131_072, maxOutputTokens: 16_384 }),
  chat('qwen-max', 'dashscope', { contextTokens: 32_768, maxOutputTokens: 8_192 }),
  chat('qwen3-max', 'dashscope', { thinking: 'optional', contextTokens: 262_144, maxOutputTokens: 65_536 }),
  chat('qwen-vl-plus', 'dashscope', { vision: true, contextTokens: 131_072, maxOutputTokens: 8_192 }),
  chat('qwen-vl-max', 'dashscope', { vision: true, contextTokens: 131_072, maxOutputTokens: 8_192 }),
  image('wanx-v1', 800),
  image('wanx2.1-t2i-turbo', 500),
  image('wanx2.1-t2i-plus', 500),
  embedding('text-embedding-v3', [1024, 768, 512, 256, 128, 64]),
  embedding('text-embedding-v4', [1024, 2048, 1536, 768, 512, 256, 128, 64]),
  chat('moonshot-v1-8k', 'moonshot', { contextTokens: 8_192, maxOutputTokens: 8_192 }),
  chat('moonshot-v1-32k', 'moonshot', { contextTokens: 32_768, maxOutputTokens: 32_768 }),
  chat('moonshot-v1-128k', 'moonshot', { contextTokens: 131_072, maxOutputTokens: 131_072 }),
  chat('moonshot-v1-8k-vision-preview', 'moonshot', { vision: true, contextTokens: 8_192, maxOutputTokens: 8_192 }),
  chat('kimi-k2-0905-preview', 'moonshot', { contextTokens: 262_144, maxOutputTokens: 32_768 }),
  chat('kimi-k2-turbo-preview', 'moonshot', { contextTokens: 262_144, maxOutputTokens: 32_768 }),
  chat('kimi-k2-thinking', 'moonshot', { thinking: 'always', contextTokens: 262_144, maxOutputTokens: 32_768 }),
]

/** The model with this id served under this provider's endpoints, if any. */
export function findEmulatorModel(provider: EmulatorProvider, id: unknown): EmulatorModel | undefined {
  return EMULATOR_MODELS.find((m) => m.provider === provider && m.id === id)
}
