import type { FastifyBaseLogger } from 'fastify'
import type { ChatService } from './chat.service'

/**
 * The restart sweeper (SECURITY L3): finalises assistant messages a dead process left `streaming`
 * — at boot, then periodically, because a row only counts as abandoned once its checkpoints have
 * stopped for `staleAfterMs` (another live instance may still be writing a fresh one).
 * Returns the function that stops it.
 */
export async function startChatSweeper(
  chat: Pick<ChatService, 'sweepStale'>,
  logger: FastifyBaseLogger,
  intervalMs = 60_000,
): Promise<() => Promise<void>> {
  let running: Promise<unknown> = Promise.resolve()
  const sweep = () => {
    running = chat.sweepStale().catch((err: unknown) => logger.error({ err }, 'chat sweeper failed'))
    return running
  }
  await sweep()
  const timer = setInterval(() => void sweep(), intervalMs)
  timer.unref()
  return async () => {
    clearInterval(timer)
    await running
  }
}
