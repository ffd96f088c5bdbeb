import { createHmac } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { hash, verify } from '@node-rs/bcrypt'
import { PASSWORD_MAX, PASSWORD_MIN } from '@qiao/shared'
import { AppError } from '../../errors'

/**
 * Password policy and hashing (SECURITY.md A1–A3).
 *
 * Hash format: `bcrypt(base64(HMAC-SHA256(key = "qiao-password-v1", NFC(password))), cost)`.
 * The pre-hash makes every character significant: bcrypt alone silently ignores bytes after
 * the 72nd, so two long passwords sharing a prefix would both match. The base64 digest is 44
 * ASCII bytes with no NUL, well inside bcrypt's input. NFC normalisation lets the same password
 * typed on different keyboards/platforms (composed vs decomposed accents) log in.
 */
const PREHASH_KEY = 'qiao-password-v1'

export function prehash(password: string): string {
  return createHmac('sha256', PREHASH_KEY).update(password.normalize('NFC'), 'utf8').digest('base64')
}

/** bcrypt cost: 12 normally, 10 in tests (never below 10, ASVS 6.2). */
export function bcryptCost(nodeEnv: string): number {
  return nodeEnv === 'test' ? 10 : 12
}

export async function hashPassword(password: string, cost: number): Promise<string> {
  return hash(prehash(password), cost)
}

export async function verifyPassword(password: string, passwordHash: string): Promise<boolean> {
  try {
    return await verify(prehash(password), passwordHash)
  } catch {
    // A malformed stored hash never authenticates anyone.
    return false
  }
}

/** The shipped list of common passwords (scripts/build-common-passwords.mjs), loaded on first use. */
let commonPasswords: string | undefined

/**
 * Whether `word` (NFC, lower-cased) is on the list. The list is kept as one newline-delimited
 * string (~90 KB) rather than a Set of 10,000 strings (~0.6 MB): it is read once per sign-up or
 * password change, where scanning it costs microseconds.
 */
export function isCommonPassword(word: string): boolean {
  if (word.includes('\n')) return false
  commonPasswords ??= loadCommonPasswords()
  return commonPasswords.includes(`\n${word}\n`)
}

/** Looked up beside this file (tsx / tests) or in the source tree next to the bundle (dist). */
function loadCommonPasswords(): string {
  const candidates = [
    join(import.meta.dirname, 'common-passwords.txt'),
    resolve(import.meta.dirname, '../src/features/auth/common-passwords.txt'),
  ]
  const file = candidates.find((f) => existsSync(f))
  if (!file) throw new Error('common-passwords.txt not found; run node scripts/build-common-passwords.mjs')
  const words = readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((word) => word && !word.startsWith('#'))
  return `\n${words.join('\n')}\n`
}

/** Throws the precise policy error, or returns when the password is acceptable for a new account. */
export function checkPasswordPolicy(password: string): void {
  // Count code points, not UTF-16 units: "密码" is two characters to the user.
  const length = [...password].length
  if (length < PASSWORD_MIN) {
    throw new AppError('PASSWORD_TOO_SHORT', `The password must be at least ${PASSWORD_MIN} characters`)
  }
  if (length > PASSWORD_MAX) {
    throw new AppError('PASSWORD_TOO_LONG', `The password must be at most ${PASSWORD_MAX} characters`)
  }
  if (isCommonPassword(password.normalize('NFC').toLowerCase())) {
    throw new AppError('PASSWORD_BREACHED', 'This password is too common; please choose another one')
  }
}
