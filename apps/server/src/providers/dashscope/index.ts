/**
 * DashScope (Alibaba Cloud Model Studio / Bailian). The channel base URL is the host root
 * (`https://dashscope.aliyuncs.com`). Chat goes through the OpenAI-compatible mode unless the
 * channel sets `{ "nativeChat": true }`; images use the native async task API; embeddings use the
 * compatible mode.
 */
import { joinUrl } from '../http'
import { createOpenAICompatibleAdapter } from '../openai-compatible/factory'
import { guardStream } from '../openai-compatible/normalize'
import type { ChatRequest, ProviderAdapter, UpstreamContext } from '../types'
import { mapDashScopeError } from './errors'
import { createImageTaskFn, getImageTaskFn } from './images'
import { nativeChat, thinkingFields } from './native'

export { mapDashScopeError, classifyDashScopeError } from './errors'
export { waitForImageTask, type WaitOptions } from './images'

const hosts = new Map<string, string>()

/** The host root, also when an admin pasted a URL that already ends in an API prefix. */
export function dashScopeHost(baseUrl: string): string {
  let host = hosts.get(baseUrl)
  if (host === undefined) {
    host = baseUrl.replace(/\/+$/, '').replace(/\/(compatible-mode\/v1|api\/v1)$/, '')
    // A channel's base URL is one of a handful of strings; worked out once, not on every call.
    if (hosts.size >= 1_000) hosts.clear()
    hosts.set(baseUrl, host)
  }
  return host
}

const host = (ctx: UpstreamContext): string => dashScopeHost(ctx.baseUrl)
const hasImages = (req: ChatRequest): boolean => req.messages.some((m) => typeof m.content !== 'string' && m.content.some((p) => p.type === 'image_url'))

export const dashScopeCompat = createOpenAICompatibleAdapter({
  kind: 'dashscope',
  apiBase: (baseUrl) => joinUrl(dashScopeHost(baseUrl), '/compatible-mode/v1'),
  extraBody: thinkingFields,
  // Commercial Qwen models refuse thinking without streaming; we stream and hand back the same events.
  mustStream: (req) => req.thinking === true,
  mapError: mapDashScopeError,
})

export const dashScopeAdapter: ProviderAdapter = {
  kind: 'dashscope',
  chat(req, ctx) {
    // The native text endpoint takes no images (those need the multimodal endpoint): VL requests
    // always use the compatible mode.
    if (ctx.options?.nativeChat === true && !hasImages(req)) {
      const stream = req.stream !== false || req.thinking === true
      return guardStream(nativeChat(req, ctx, { host: host(ctx), stream, mapError: mapDashScopeError }), ctx.apiKey)
    }
    return dashScopeCompat.chat(req, ctx)
  },
  embed: (req, ctx) => dashScopeCompat.embed!(req, ctx),
  createImageTask: createImageTaskFn(host, mapDashScopeError),
  getImageTask: getImageTaskFn(host, mapDashScopeError),
}
