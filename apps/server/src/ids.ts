import { randomBytes } from 'node:crypto'

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz' // Crockford base32, lower case

function encode(bytes: Uint8Array, chars: number): string {
  // Big-endian bit stream → base32 digits, right-aligned to `chars` digits: 5 bits at a time
  // from the least significant end (plain integers; this runs several times per request).
  let out = ''
  let acc = 0
  let bits = 0
  let i = bytes.length - 1
  for (let c = 0; c < chars; c++) {
    if (bits < 5) {
      if (i >= 0) {
        acc |= bytes[i--]! << bits
        bits += 8
      } else {
        bits = 5
      }
    }
    out = ALPHABET[acc & 31]! + out
    acc >>>= 5
    bits -= 5
  }
  return out
}

// Random bytes are drawn from a pool refilled 4 KiB at a time: one CSPRNG call per 256 ids
// instead of one per id (ids are made on every request's hot path).
const POOL_BYTES = 4096
let pool = Buffer.alloc(0)
let poolOffset = POOL_BYTES

function random16(): Buffer {
  if (poolOffset + 16 > pool.length) {
    pool = randomBytes(POOL_BYTES)
    poolOffset = 0
  }
  const out = pool.subarray(poolOffset, poolOffset + 16)
  poolOffset += 16
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
  return encode(time, 10) + encode(random16(), 26)
}

/** URL-safe random token with `bytes` bytes of entropy (refresh tokens, API key secrets). */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url')
}
