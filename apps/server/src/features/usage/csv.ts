import type { UsageCall } from '@qiao/shared'

/**
 * One CSV cell (RFC 4180). Cells a spreadsheet would read as a formula (starting with `=`, `+`,
 * `-`, `@`, a tab or a carriage return) get a leading `'`, so a model name or error code
 * crafted as `=HYPERLINK(...)` stays text when the export is opened in Excel or WPS.
 */
export function csvCell(value: string | number | boolean | null): string {
  if (value === null) return ''
  let s = String(value)
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

export const csvLine = (cells: Array<string | number | boolean | null>) => `${cells.map(csvCell).join(',')}\r\n`

/** The export's columns, in order. Money is micro-yuan, plus yuan for people reading the sheet. */
export const CSV_COLUMNS: Array<{ header: string; value: (c: UsageCall) => string | number | boolean | null }> = [
  { header: 'created_at', value: (c) => c.createdAt },
  { header: 'request_id', value: (c) => c.requestId },
  { header: 'source', value: (c) => c.source },
  { header: 'api_key_id', value: (c) => c.apiKeyId },
  { header: 'provider', value: (c) => c.provider },
  { header: 'model', value: (c) => c.model },
  { header: 'endpoint', value: (c) => c.endpoint },
  { header: 'status', value: (c) => c.status },
  { header: 'http_status', value: (c) => c.httpStatus },
  { header: 'error_code', value: (c) => c.errorCode },
  { header: 'prompt_tokens', value: (c) => c.promptTokens },
  { header: 'completion_tokens', value: (c) => c.completionTokens },
  { header: 'cached_tokens', value: (c) => c.cachedTokens },
  { header: 'reasoning_tokens', value: (c) => c.reasoningTokens },
  { header: 'images', value: (c) => c.images },
  { header: 'usage_estimated', value: (c) => c.usageEstimated },
  { header: 'cost_micro_yuan', value: (c) => c.cost },
  { header: 'cost_yuan', value: (c) => (c.cost / 1_000_000).toFixed(6) },
  { header: 'latency_ms', value: (c) => c.latencyMs },
  { header: 'ttft_ms', value: (c) => c.ttftMs },
]
