/**
 * Money in the browser. The API speaks integer micro-yuan (1e-6 CNY); we never turn those into
 * floats for arithmetic. Display rounds half away from zero on integers, and input is parsed from
 * the decimal string the user typed, so "0.1" is exactly 100 000 micro-yuan, not 99 999.
 */

export const MICRO_PER_YUAN = 1_000_000

/** Accepts: optional sign, digits, optional point and up to 6 decimals. No exponents, no commas. */
const DECIMAL = /^([+-])?(\d+)(?:\.(\d*))?$/

/**
 * "12.5" → 12 500 000. Returns null for anything that is not a plain decimal with at most six
 * fractional digits, or whose magnitude exceeds `maxMicro` (default: Number.MAX_SAFE_INTEGER).
 */
export function parseYuan(input: string, maxMicro = Number.MAX_SAFE_INTEGER): number | null {
  const match = DECIMAL.exec(input.trim())
  if (!match) return null
  const [, sign, whole = '', fraction = ''] = match
  if (fraction.length > 6) return null
  // Strip leading zeros before the length check so "0000001" is not refused as too long.
  const wholeDigits = whole.replace(/^0+(?=\d)/, '')
  if (wholeDigits.length > 10) return null
  const micro = Number(wholeDigits) * MICRO_PER_YUAN + Number(fraction.padEnd(6, '0'))
  if (!Number.isSafeInteger(micro) || micro > maxMicro) return null
  return sign === '-' && micro !== 0 ? -micro : micro
}

/** 12 500 000 → "12.5": the exact decimal, for prefilling an input. */
export function microToYuanString(micro: number): string {
  const negative = micro < 0
  const abs = Math.abs(Math.trunc(micro))
  const whole = Math.floor(abs / MICRO_PER_YUAN)
  const fraction = String(abs % MICRO_PER_YUAN)
    .padStart(6, '0')
    .replace(/0+$/, '')
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`
}

export interface FormatYuanOptions {
  /** Prefix positive amounts with "+" (ledger deltas). */
  sign?: boolean
  /** Most decimals to show (2–6). Amounts that would round to zero get up to six anyway. */
  maxDecimals?: number
}

/** Rounds |micro| to `decimals` places, half away from zero, on integers. Returns [whole, fraction]. */
function roundTo(abs: number, decimals: number): [number, string] {
  const step = 10 ** (6 - decimals)
  const rounded = Math.round(abs / step) * step
  const whole = Math.floor(rounded / MICRO_PER_YUAN)
  const fraction = String(rounded % MICRO_PER_YUAN)
    .padStart(6, '0')
    .slice(0, decimals)
  return [whole, fraction]
}

/**
 * 1 234 500 000 → "¥1,234.50"; 1 200 → "¥0.0012"; 3 → "¥0.000003". Two decimals at least,
 * up to four by default (trailing zeros beyond two trimmed), so small per-call costs stay visible.
 */
export function formatYuan(micro: number, options: FormatYuanOptions = {}): string {
  const maxDecimals = Math.min(6, Math.max(2, options.maxDecimals ?? 4))
  const abs = Math.abs(Math.trunc(micro))
  let [whole, fraction] = roundTo(abs, maxDecimals)
  // A non-zero amount never shows as ¥0.00: fall back to all six places.
  if (abs !== 0 && whole === 0 && /^0*$/.test(fraction)) [whole, fraction] = roundTo(abs, 6)
  const trimmed = fraction.replace(/0+$/, '').padEnd(2, '0')
  const grouped = whole.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',')
  const signText = micro < 0 ? '-' : options.sign && micro > 0 ? '+' : ''
  return `${signText}¥${grouped}.${trimmed}`
}
