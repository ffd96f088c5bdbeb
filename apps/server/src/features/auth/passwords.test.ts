import { describe, expect, it } from 'vitest'
import { checkPasswordPolicy, isCommonPassword, prehash } from './passwords'

describe('the common-password list', () => {
  it('holds its first and last entries, whole words only', () => {
    expect(isCommonPassword('password')).toBe(true)
    expect(isCommonPassword('dalmatio')).toBe(true)
    // Parts and extensions of listed words, and the file's comment lines, are not on the list.
    expect(isCommonPassword('passwor')).toBe(false)
    expect(isCommonPassword('password-and-more')).toBe(false)
    expect(isCommonPassword('# the 10000 most common passwords of at least 8 characters, lower-cased, most common first.')).toBe(false)
    // Two listed words joined by a newline are not one listed word.
    expect(isCommonPassword('password\n12345678')).toBe(false)
  })

  it('refuses listed passwords in any case, and composed and decomposed forms alike', () => {
    expect(() => checkPasswordPolicy('PassWord')).toThrow(expect.objectContaining({ code: 'PASSWORD_BREACHED' }))
    expect(() => checkPasswordPolicy('Correct-Horse-Battery-9')).not.toThrow()
  })
})

describe('the password pre-hash', () => {
  it('is the same for the composed and decomposed forms of a password, ASCII or not', () => {
    expect(prehash('caf\u00e9-p\u00e4ss-2026')).toBe(prehash('cafe\u0301-pa\u0308ss-2026'))
    expect(prehash('plain-ascii-2026')).not.toBe(prehash('plain-ascii-2027'))
  })
})
