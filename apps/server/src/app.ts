import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import fastifyCookie from '@fastify/cookie'
import fastifyCors from '@fastify/cors'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod'
import type { AppDeps } from './context'
import { AppError, forbidden, installErrorHandler } from './errors'
import { newId } from './ids'
import { createServices, type Services } from './services'
import { registerFeatureRoutes } from './routes'
import { sendOpenAiError } from './features/gateway/openai-errors'
import { apiDocs } from './features/ops/api-docs'
import { opsRoutes } from './features/ops/ops.routes'
import { enforceRateLimit } from './platform/rate-limit'
import { requestLogger } from './platform/logger'
import { installSecurityHeaders } from './platform/security-headers'

/** One registered route as the route-table test sees it (SECURITY.md C5); `auth` as declared. */
export interface RouteTableEntry {
  method: string
  url: string
  auth: string | undefined
}

export type App = FastifyInstance & { services: Services; routeTable: RouteTableEntry[] }

/**
 * Our own routes live under these prefixes and must declare `config.auth`. Anything else was added
 * by a plugin (CORS preflight, docs UI, static web files) and is public by nature.
 */
const API_PREFIXES = ['/api/', '/v1/', '/healthz', '/readyz', '/metrics', '/openapi.json', '/.well-known/']

/** A request id from the client is kept only if it looks like one of ours or a UUID. */
const REQUEST_ID_RE = /^[A-Za-z0-9_-]{8,64}$/

/** Fastify's schema compilers, zod's (Fastify types these factories for Ajv; any compiler of the same shape works). */
type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>
const ZOD_COMPILERS = { buildValidator: () => validatorCompiler, buildSerializer: () => serializerCompiler } as unknown as CompilersFactory

/**
 * Builds the Fastify app from its dependencies. No I/O happens at import time; everything
 * external (database, Redis, keys, logger) comes in through `deps`.
 */
export async function buildApp(deps: AppDeps): Promise<App> {
  const { config } = deps
  const options: FastifyServerOptions = {
    loggerInstance: deps.logger,
    // Each request's child logger is made on its first line, not for every request.
    childLoggerFactory: requestLogger,
    bodyLimit: config.QIAO_BODY_LIMIT,
    // Trust exactly as many proxy hops as configured (0 = none): X-Forwarded-For is otherwise forgeable.
    trustProxy: (_addr: string, hop: number) => hop < config.QIAO_TRUST_PROXY,
    genReqId: (req) => {
      const given = req.headers['x-request-id']
      return typeof given === 'string' && REQUEST_ID_RE.test(given) ? given : newId()
    },
    // Deeply nested JSON is refused by the parser limits below rather than blowing the stack.
    onProtoPoisoning: 'remove',
    onConstructorPoisoning: 'remove',
    routerOptions: { ignoreTrailingSlash: true },
    // Routes validate and serialise with zod. Handing Fastify the zod compilers here, rather than
    // through setValidatorCompiler() afterwards, keeps it from loading its default JSON-schema
    // compilers (Ajv, three copies of it in node_modules, and fast-json-stringify), which nothing
    // would call: ~3 MB of heap and ~10 MB of resident memory (bench/README.md).
    schemaController: { compilersFactory: ZOD_COMPILERS },
  }
  const app: FastifyInstance = Fastify(options)

  app.decorateRequest('user', null)
  app.decorateRequest('apiKey', null)
  installErrorHandler(app)

  // Every answer, errors and 404s included, carries the request id.
  app.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id)
    done()
  })
  // CSP, nosniff, no framing (SECURITY.md E4): built once, on every answer, 401s and 429s included.
  installSecurityHeaders(app, { strictTransportSecurity: config.QIAO_PUBLIC_URL.startsWith('https:') })

  // Every route must say who may call it; a route without `config.auth` fails at startup.
  const routeTable: RouteTableEntry[] = []
  app.addHook('onRoute', (route) => {
    const cfg = (route.config ?? {}) as { auth?: string }
    // Recorded as declared (undefined for plugin routes, which default to public below).
    for (const method of [route.method].flat()) routeTable.push({ method, url: route.url, auth: cfg.auth })
    if (cfg.auth) return
    if (API_PREFIXES.some((p) => route.url.startsWith(p))) {
      throw new Error(`Route ${String(route.method)} ${route.url} does not declare config.auth`)
    }
    route.config = { ...cfg, auth: 'public' }
  })

  const services = createServices(deps)
  // After the last request: write the batched /v1 usage and return the credit leases.
  app.addHook('onClose', async () => {
    await services.leases.close()
  })

  // Requests per minute per IP on every auth route (SECURITY.md G4), before authentication and
  // validation so neither bcrypt nor the parser runs for a flood. Keyed on the matched route, not
  // the raw URL, so spelling variants of a path cannot dodge it.
  app.addHook('onRequest', async (request, reply) => {
    if (!request.routeOptions.url?.startsWith('/api/auth/')) return
    enforceRateLimit(reply, await services.rateLimits.checkIp(request.ip, 'auth'))
  })

  // Authentication and role checks run before validation, so an anonymous caller learns nothing
  // about a route's schema, and the role is re-read from the database on every request.
  app.addHook('onRequest', async (request) => {
    const auth = request.routeOptions.config.auth
    if (auth === 'user' || auth === 'admin') {
      request.user = await services.auth.authenticate(request)
      if (auth === 'admin' && request.user.role !== 'admin') throw forbidden()
    } else if (auth === 'apiKey') {
      // Personal API keys (/v1): only from headers; a key in the query string is refused (C7).
      const query = request.query as Record<string, unknown> | undefined
      const header = request.headers['x-api-key']
      request.apiKey = await services.apiKeys.authenticate({
        authorization: request.headers.authorization,
        apiKeyHeader: Array.isArray(header) ? header[0] : header,
        inQuery: !!query && ('key' in query || 'api_key' in query || 'apiKey' in query),
      })
    }
  })

  await app.register(fastifyCors, {
    // Closed by default: only the listed origins may call the API from a browser.
    origin: config.QIAO_CORS_ORIGINS?.length ? config.QIAO_CORS_ORIGINS : false,
    credentials: true,
  })
  await app.register(fastifyCookie)

  // /openapi.json and /docs: built on first request (before any route: it records them).
  apiDocs(app)

  opsRoutes(app, deps, services)
  await registerFeatureRoutes(app, deps, services)

  await serveWebApp(app, deps.webRoot)
  return Object.assign(app, { services, routeTable })
}

/** Vite's build output names: hashed files under /assets/, a few fixed ones at the root. */
const WEB_FILE = /^\/(?:[A-Za-z0-9_-][A-Za-z0-9._-]*\/)*[A-Za-z0-9_-][A-Za-z0-9._-]*\.[A-Za-z0-9]+$/

/**
 * In a production build the server also serves the SPA: its files, and index.html for every other
 * non-API path (client-side routes). One catch-all route does both, through @fastify/send (what
 * @fastify/static uses underneath), loaded only when there is a web app to serve. @fastify/static
 * itself would register a GET and a HEAD route per built file (~250 routes, ~2 MB of resident
 * memory), and loads glob and its dependencies at startup (~1.5 MB of heap) for features not used
 * here.
 */
async function serveWebApp(app: FastifyInstance, webRoot: string | undefined): Promise<void> {
  const candidates = [resolve(process.cwd(), 'apps/web/dist'), resolve(import.meta.dirname, '../../web/dist')]
  const root = webRoot ?? candidates.find((dir) => existsSync(join(dir, 'index.html')))
  if (!root) return
  const { default: send } = await import('@fastify/send')
  const sendFile = async (request: FastifyRequest, reply: FastifyReply, file: string, cache: { maxAge: number; immutable: boolean } | undefined) => {
    // send() takes a URL path (it decodes it again) and refuses dotfiles and `..` itself.
    const sent = await send(request.raw, encodeURI(file), { root, dotfiles: 'deny', index: false, ...(cache ? { cacheControl: true, ...cache } : { cacheControl: false }) })
    if (sent.type !== 'file') {
      sent.stream.destroy()
      // A missing file, a directory or a dotfile: the same 404 as any unknown path.
      if (sent.type === 'directory' || sent.statusCode === 404 || sent.statusCode === 403) throw new AppError('NOT_FOUND', 'Route not found')
      // 412 and 416 (conditional and range requests) carry their own headers and no body.
      return reply.code(sent.statusCode).headers(sent.headers).send()
    }
    return reply.code(sent.statusCode).headers(sent.headers).send(sent.stream)
  }
  // A catch-all GET route rather than a second not-found handler: errors.ts already owns that one
  // and Fastify refuses to set it twice. Every real route takes precedence.
  app.get('/*', { config: { auth: 'public' }, schema: { hide: true } }, (request, reply) => {
    const path = request.url.split('?')[0] ?? '/'
    // This catch-all matches before the gateway's own not-found handler can: /v1 clients get
    // OpenAI's error shape, as every other /v1 answer has.
    if (path === '/v1' || path.startsWith('/v1/')) return sendOpenAiError(reply, new AppError('NOT_FOUND', `Unknown request URL: GET ${path}`))
    if (path === '/api' || path.startsWith('/api/')) throw new AppError('NOT_FOUND', 'Route not found')
    // A path with an extension is a file: one of the build's (anything else is a 404, before the
    // file system is asked). Hashed names never change content: cached for a year. The rest
    // (sw.js, the manifest, icons) is revalidated.
    if (/\.[a-z0-9]+$/i.test(path)) {
      if (!WEB_FILE.test(path)) throw new AppError('NOT_FOUND', 'Route not found')
      const immutable = path.startsWith('/assets/')
      return sendFile(request, reply, path, { maxAge: immutable ? 31_536_000_000 : 0, immutable })
    }
    return sendFile(request, reply.type('text/html').header('cache-control', 'no-cache'), '/index.html', undefined)
  })
}
