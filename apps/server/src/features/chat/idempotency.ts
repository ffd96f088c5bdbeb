/**
 * `Idempotency-Key` for chat turns (SECURITY M2): a double-clicked send or regenerate with the same
 * key makes one upstream call. The first request claims the key; a repeat while it runs is refused
 * (409), a repeat after it finished replays the stored messages.
 *
 * Kept in this process's memory, per user, for `ttlMs`: enough for double clicks and client
 * retries, which reach the same instance through the same connection in practice. Behind a load
 * balancer without affinity a repeat on another instance is not caught; moving this to Redis
 * (SET NX PX) is the upgrade path.
 */

export type IdempotencyEntry =
  | { state: 'running'; at: number }
  | { state: 'done'; at: number; userMessageId: string; assistantMessageId: string }

export class IdempotencyStore {
  private readonly entries = new Map<string, IdempotencyEntry>()

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
    private readonly clock: () => number = Date.now,
  ) {}

  private keyOf(userId: string, key: string): string {
    return `${userId}\u0000${key}`
  }

  /** Returns the existing entry, or claims the key (undefined) when it is free. */
  claim(userId: string, key: string): IdempotencyEntry | undefined {
    const k = this.keyOf(userId, key)
    const now = this.clock()
    const found = this.entries.get(k)
    if (found && now - found.at < this.ttlMs) return found
    this.entries.delete(k)
    this.evict(now)
    this.entries.set(k, { state: 'running', at: now })
    return undefined
  }

  complete(userId: string, key: string, ids: { userMessageId: string; assistantMessageId: string }): void {
    this.entries.set(this.keyOf(userId, key), { state: 'done', at: this.clock(), ...ids })
  }

  /** Frees a claim whose request failed before anything was stored, so a retry can run. */
  release(userId: string, key: string): void {
    const k = this.keyOf(userId, key)
    if (this.entries.get(k)?.state === 'running') this.entries.delete(k)
  }

  private evict(now: number): void {
    for (const [k, e] of this.entries) {
      // Insertion order is age order: stop at the first live entry once under the cap.
      if (now - e.at < this.ttlMs && this.entries.size < this.maxEntries) break
      this.entries.delete(k)
    }
  }
}
