import fastifyMultipart from '@fastify/multipart'
import { FileInfoSchema, IdParamsSchema } from '@qiao/shared'
import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { AppDeps } from '../../context'
import { AppError } from '../../errors'
import type { Services } from '../../services'
import { contentDisposition } from './content-disposition'
import { MAX_FILE_BYTES } from './files.service'

/** Image uploads for vision models — mounted at /api/files. */
export function filesRoutes(app: FastifyInstance, _deps: AppDeps, services: Services): void {
  // Scoped to this plugin: no other route accepts multipart bodies.
  void app.register(fastifyMultipart, {
    limits: { files: 1, fileSize: MAX_FILE_BYTES, fields: 4, fieldSize: 1024, parts: 5, headerPairs: 50 },
  })
  const r = app.withTypeProvider<ZodTypeProvider>()
  const common = { tags: ['files'], security: [{ bearer: [] }] }

  r.post(
    '/',
    {
      config: { auth: 'user' },
      schema: {
        ...common,
        summary: 'Upload an image (PNG, JPEG, GIF or WEBP, up to 10 MB; the type is read from the content)',
        consumes: ['multipart/form-data'],
        response: { 201: FileInfoSchema },
      },
    },
    async (request, reply) => {
      if (!request.isMultipart()) {
        throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send the image as multipart/form-data')
      }
      const part = await request.file()
      if (!part) throw new AppError('VALIDATION_FAILED', 'No file in the upload')
      // toBuffer() throws a 413 as soon as the stream passes the size limit.
      const bytes = await part.toBuffer()
      const info = await services.files.upload({ userId: request.user!.id, name: part.filename, bytes })
      return reply.status(201).send(info)
    },
  )

  r.get(
    '/:id',
    {
      config: { auth: 'user' },
      schema: { ...common, summary: 'One of your files', params: IdParamsSchema, response: { 200: FileInfoSchema } },
    },
    (request) => services.files.getInfo({ userId: request.user!.id, id: request.params.id }),
  )

  r.get(
    '/:id/content',
    {
      config: { auth: 'user' },
      schema: {
        ...common,
        summary: 'The bytes of one of your files',
        params: IdParamsSchema,
        produces: ['image/png', 'image/jpeg', 'image/gif', 'image/webp'],
        response: { 200: z.unknown().describe('The image bytes') },
      },
    },
    async (request, reply) => {
      const file = await services.files.readFile({ userId: request.user!.id, id: request.params.id })
      return (
        reply
          .type(file.mime)
          .header('x-content-type-options', 'nosniff')
          .header('content-disposition', contentDisposition('inline', file.name))
          .header('cache-control', 'private, max-age=86400')
          // Opened directly, the response is an inert document: no scripts, no plugins, no origin.
          .header('content-security-policy', "default-src 'none'; img-src 'self'; sandbox")
          .send(file.bytes)
      )
    },
  )

  r.delete(
    '/:id',
    {
      config: { auth: 'user' },
      schema: {
        ...common,
        summary: 'Delete one of your files',
        params: IdParamsSchema,
        response: { 204: z.null().describe('No content') },
      },
    },
    async (request, reply) => {
      await services.files.delete({ userId: request.user!.id, id: request.params.id })
      return reply.status(204).send(null)
    },
  )
}
