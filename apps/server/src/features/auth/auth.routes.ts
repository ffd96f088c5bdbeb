import type { FastifyInstance } from 'fastify'
import type { AppDeps } from '../../context'
import type { Services } from '../../services'

export function authRoutes(_app: FastifyInstance, _deps: AppDeps, _services: Services): void {}
