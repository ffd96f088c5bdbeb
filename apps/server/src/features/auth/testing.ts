import { randomBytes } from 'node:crypto'
import type { AuthResult } from '@qiao/shared'
import type { TestApp } from '../../test/app'

/** Test factories for accounts, through the real HTTP API. Not imported by production code. */

/** A password that passes the policy and is unique per call. */
export function strongPassword(): string {
  return `Bridge-${randomBytes(6).toString('hex')}-river`
}

export interface TestAccount extends AuthResult {
  email: string
  password: string
  /** The refresh cookie as the server set it. */
  cookie: string | undefined
}

export async function registerUser(
  t: Pick<TestApp, 'inject'>,
  overrides: { email?: string; password?: string; username?: string; ip?: string } = {},
): Promise<TestAccount> {
  const email = overrides.email ?? `u${randomBytes(6).toString('hex')}@example.com`
  const password = overrides.password ?? strongPassword()
  const res = await t.inject({
    method: 'POST',
    url: '/api/auth/register',
    payload: { email, password, ...(overrides.username ? { username: overrides.username } : {}) },
    // A different source address per account so the per-IP sign-up limit does not trip factories.
    remoteAddress: overrides.ip ?? `198.18.${randomBytes(1)[0]}.${randomBytes(1)[0]}`,
  })
  if (res.statusCode !== 201) throw new Error(`register failed: ${res.statusCode} ${res.body}`)
  const setCookie = res.headers['set-cookie']
  const cookie = [setCookie ?? []].flat()[0]
  return { ...res.json<AuthResult>(), email, password, cookie }
}

/** Makes the account an admin directly in the database (roles are re-read on every request). */
export async function promote(t: Pick<TestApp, 'deps'>, userId: string): Promise<void> {
  await t.deps.db.kysely.updateTable('users').set({ role: 'admin' }).where('id', '=', userId).execute()
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
