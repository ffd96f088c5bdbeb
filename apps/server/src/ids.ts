import { randomBytes } from 'node:crypto'

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz' // Crockford base32, lower case

function encode(bytes: Uint8Array, chars: number): string {
  // Big-endian bit stream → base32 digits, right-aligned to `chars` digits.
  let out = ''
  let value = 0n
  for (const b of bytes) value = (value << 8n) | BigInt(b)
  for (let i = 0; i < chars; i++) {
    out = ALPHABET[Number(value & 31n)]! + out
    value >>= 5n
  }
  return out
}

/**
 * A new id: 10 characters of millisecond time (so ids sort by creation) and 26 characters of
 * 128 random bits (so ids cannot be guessed). 36 lower-case characters.
 */
export function newId(now: number = Date.now()): string {
  const time = new Uint8Array(6)
  let t = now
  for (let i = 5; i >= 0; i--) {
    time[i] = t % 256
    t = Math.floor(t / 256)
  }
  return encode(time, 10) + encode(randomBytes(16), 26)
}

/** URL-safe random token with `bytes` bytes of entropy (refresh tokens, API key secrets). */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url')
}
