/**
 * A `Content-Disposition` header value that is safe for any file name: an ASCII-only quoted
 * fallback (quotes, backslashes, control and non-ASCII characters replaced) plus the exact name
 * as RFC 5987 `filename*`. Nothing the user typed can end the header or add a parameter.
 */
export function contentDisposition(type: 'inline' | 'attachment', name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]|["\\%;]/g, '_').trim() || 'file'
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  return `${type}; filename="${fallback}"; filename*=UTF-8''${encoded}`
}

/**
 * A file name made from free text (a conversation title, an upload's name): path separators,
 * characters Windows refuses and control characters become `_`; at most `max` characters.
 */
export function safeFileName(text: string, fallback: string, max = 100): string {
  const cleaned = text
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f-\u009f/\\:*?"<>|]/g, '_')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^\.+/, '')
  const chars = Array.from(cleaned).slice(0, max).join('').trim()
  return chars || fallback
}
