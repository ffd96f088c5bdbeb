import type { FastifyInstance } from 'fastify'
import type { AppDeps } from '../../context'
import type { Services } from '../../services'

export function meRoutes(_app: FastifyInstance, _deps: AppDeps, _services: Services): void {}
