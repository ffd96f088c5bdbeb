import {
  AuthResultSchema,
  IdParamsSchema,
  JwksSchema,
  LoginBodySchema,
  RefreshBodySchema,
  RegisterBodySchema,
  SessionSchema,
  type AuthResult,
} from '@qiao/shared'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Config } from '../../config'
import type { AppDeps } from '../../context'
import type { Services } from '../../services'
import type { ClientContext } from './auth.service'
import { REFRESH_TOKEN_TTL_MS } from './auth.service'

/**
 * The refresh-token cookie. `__Host-` + `Secure` whenever the browser will accept it: on https,
 * and on localhost/127.0.0.1, which browsers treat as secure contexts. A plain-http deployment on
 * another host gets a non-prefixed cookie without `Secure` (and a warning at boot).
 */
export function refreshCookie(config: Pick<Config, 'QIAO_PUBLIC_URL'>): { name: string; secure: boolean } {
  const url = new URL(config.QIAO_PUBLIC_URL)
  const secure = url.protocol === 'https:' || ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)
  return secure ? { name: '__Host-qiao_rt', secure: true } : { name: 'qiao_rt', secure: false }
}

export function clientContext(request: FastifyRequest): ClientContext {
  const ua = request.headers['user-agent']
  return { ip: request.ip, userAgent: typeof ua === 'string' ? ua : undefined }
}

const NoContent = z.null().describe('No content')

/** Register, sign in, refresh, sign out, sessions — mounted at /api/auth. */
export function authRoutes(app: FastifyInstance, deps: AppDeps, services: Services): void {
  const r = app.withTypeProvider<ZodTypeProvider>()
  const { auth } = services
  const cookie = refreshCookie(deps.config)
  if (!cookie.secure) {
    deps.logger.warn(
      { publicUrl: deps.config.QIAO_PUBLIC_URL },
      'QIAO_PUBLIC_URL is plain http on a non-local host: the refresh cookie cannot be Secure; serve Qiao over https',
    )
  }

  const setCookie = (reply: FastifyReply, token: string) =>
    reply.setCookie(cookie.name, token, {
      httpOnly: true,
      secure: cookie.secure,
      sameSite: 'strict',
      path: '/',
      maxAge: REFRESH_TOKEN_TTL_MS / 1000,
    })
  const clearCookie = (reply: FastifyReply) =>
    reply.clearCookie(cookie.name, { httpOnly: true, secure: cookie.secure, sameSite: 'strict', path: '/' })
  // The body wins over the cookie: API clients send it explicitly; the web app relies on the cookie.
  const presentedToken = (request: FastifyRequest, body: { refreshToken?: string | undefined } | null | undefined) =>
    body?.refreshToken ?? request.cookies[cookie.name]
  const issue = (reply: FastifyReply, result: AuthResult) => {
    setCookie(reply, result.refreshToken)
    return result
  }

  r.post(
    '/register',
    {
      config: { auth: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'Create an account and sign in',
        body: RegisterBodySchema,
        response: { 201: AuthResultSchema },
      },
    },
    async (request, reply) => {
      const result = await auth.register(request.body, clientContext(request))
      return reply.code(201).send(issue(reply, result))
    },
  )

  r.post(
    '/login',
    {
      config: { auth: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'Sign in with email or username',
        body: LoginBodySchema,
        response: { 200: AuthResultSchema },
      },
    },
    async (request, reply) => issue(reply, await auth.login(request.body, clientContext(request))),
  )

  r.post(
    '/refresh',
    {
      config: { auth: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'Exchange a refresh token (body or cookie) for a new pair; the old one is spent',
        body: RefreshBodySchema.nullish(),
        response: { 200: AuthResultSchema },
      },
    },
    async (request, reply) => {
      try {
        return issue(reply, await auth.refresh(presentedToken(request, request.body), clientContext(request)))
      } catch (err) {
        // A dead session's cookie is useless; drop it so the browser stops sending it.
        clearCookie(reply)
        throw err
      }
    },
  )

  r.post(
    '/logout',
    {
      config: { auth: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'Sign out the session of this refresh token (body or cookie)',
        body: RefreshBodySchema.nullish(),
        response: { 204: NoContent },
      },
    },
    async (request, reply) => {
      await auth.logout(presentedToken(request, request.body), clientContext(request))
      clearCookie(reply)
      return reply.code(204).send(null)
    },
  )

  r.get(
    '/sessions',
    {
      config: { auth: 'user' },
      schema: {
        tags: ['auth'],
        summary: "The caller's active sessions",
        security: [{ bearer: [] }],
        response: { 200: z.object({ items: z.array(SessionSchema) }) },
      },
    },
    async (request) => ({ items: await auth.listSessions(request.user!) }),
  )

  r.delete(
    '/sessions/:id',
    {
      config: { auth: 'user' },
      schema: {
        tags: ['auth'],
        summary: 'Sign one of your sessions out',
        security: [{ bearer: [] }],
        params: IdParamsSchema,
        response: { 204: NoContent },
      },
    },
    async (request, reply) => {
      await auth.revokeSession(request.user!, request.params.id, clientContext(request))
      return reply.code(204).send(null)
    },
  )
}

/** `GET /.well-known/jwks.json` at the root: the keys that verify our access tokens. */
export function jwksRoutes(app: FastifyInstance, _deps: AppDeps, services: Services): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/.well-known/jwks.json',
    {
      config: { auth: 'public' },
      schema: { tags: ['auth'], summary: 'Public signing keys (JWKS)', response: { 200: JwksSchema } },
    },
    async (_request, reply) => {
      void reply.header('cache-control', 'public, max-age=300')
      return services.auth.jwks()
    },
  )
}
