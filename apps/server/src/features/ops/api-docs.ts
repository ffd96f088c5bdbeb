import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type RouteOptions } from 'fastify'
import { jsonSchemaTransform } from 'fastify-type-provider-zod'

/** Request headers the docs UI's static files answer to (conditional GETs). */
const FORWARDED_REQUEST_HEADERS = ['if-none-match', 'if-modified-since', 'accept']
/** Response headers worth passing on from the docs instance; the app adds its own security headers. */
const FORWARDED_RESPONSE_HEADERS = ['content-type', 'location', 'cache-control', 'etag', 'last-modified']

/**
 * The OpenAPI document (`/openapi.json`) and its UI (`/docs`), built on their first request.
 *
 * @fastify/swagger and the UI load yaml, a JSON-schema resolver and the UI's own routes: a few MB
 * of heap that a gateway nobody browses would carry for nothing. Instead, the routes are recorded
 * here as they are registered (call this before registering any route), and the first request
 * builds a separate Fastify instance that never listens: the same routes (their schemas and
 * config, no handlers) with the two plugins. `/openapi.json` is its document, `/docs/*` is answered
 * by it through `inject`.
 */
export function apiDocs(app: FastifyInstance): void {
  const routes: RouteOptions[] = []
  app.addHook('onRoute', (route) => {
    // Fastify adds HEAD for every GET itself, in the docs instance too.
    if (route.method !== 'HEAD') routes.push(route)
  })

  let docs: Promise<FastifyInstance> | undefined
  const docsApp = () => {
    docs ??= buildDocsApp(routes).catch((err: unknown) => {
      docs = undefined
      throw err
    })
    return docs
  }

  app.get('/openapi.json', { config: { auth: 'public' }, schema: { hide: true } }, async () => (await docsApp()).swagger())

  const ui = async (request: FastifyRequest, reply: FastifyReply) => {
    const headers: Record<string, string> = {}
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const value = request.headers[name]
      if (typeof value === 'string') headers[name] = value
    }
    const res = await (await docsApp()).inject({ method: 'GET', url: request.url, headers })
    void reply.code(res.statusCode)
    for (const name of FORWARDED_RESPONSE_HEADERS) {
      const value = res.headers[name]
      if (value !== undefined) void reply.header(name, value)
    }
    return reply.send(res.rawPayload)
  }
  app.get('/docs', { config: { auth: 'public' }, schema: { hide: true } }, ui)
  app.get('/docs/*', { config: { auth: 'public' }, schema: { hide: true } }, ui)
}

async function buildDocsApp(routes: readonly RouteOptions[]): Promise<FastifyInstance> {
  const [{ default: fastifySwagger }, { default: fastifySwaggerUi }] = await Promise.all([
    import('@fastify/swagger'),
    import('@fastify/swagger-ui'),
  ])
  const docs = Fastify({ logger: false })
  // Nothing is validated or serialized here: the schemas are only read by @fastify/swagger.
  docs.setValidatorCompiler(() => (value: unknown) => ({ value }))
  docs.setSerializerCompiler(() => (value: unknown) => JSON.stringify(value))
  await docs.register(fastifySwagger, {
    openapi: {
      info: { title: 'Qiao API', version: '0.1.0', description: 'The Qiao (桥) HTTP API. See API.md.' },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
    },
    transform: jsonSchemaTransform,
  })
  await docs.register(fastifySwaggerUi, { routePrefix: '/docs', staticCSP: false })
  const seen = new Set<string>()
  for (const route of routes) {
    for (const method of [route.method].flat()) {
      const key = `${method} ${route.url}`
      if (route.schema?.hide || seen.has(key)) continue
      seen.add(key)
      docs.route({ method, url: route.url, schema: route.schema, config: route.config, handler: () => null })
    }
  }
  await docs.ready()
  return docs
}
