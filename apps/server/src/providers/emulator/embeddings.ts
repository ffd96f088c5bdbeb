/** Deterministic text embeddings: unit vectors seeded from a hash of (model, text). */
import { createHash } from 'node:crypto'
import type { EmulatorModel } from './models'
import { Reject } from './protocol-errors'
import { countTokens } from './tokenizer'

/** Most texts one embedding call accepts. */
export const MAX_EMBEDDING_BATCH = 10

/** A unit vector of `dimensions` numbers; the same (model, text) always gives the same vector. */
export function embed(model: string, text: string, dimensions: number): number[] {
  let seed = createHash('sha256').update(`${model}\u0000${text}`).digest().readUInt32LE(0)
  const values: number[] = []
  let norm = 0
  for (let i = 0; i < dimensions; i++) {
    // mulberry32: a tiny PRNG, good enough to spread the values.
    seed = (seed + 0x6d2b79f5) | 0
    let t = seed
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    const v = ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5
    values.push(v)
    norm += v * v
  }
  const scale = 1 / Math.sqrt(norm)
  return values.map((v) => v * scale)
}

export interface EmbeddingJob {
  texts: string[]
  dimensions: number
  tokens: number
}

/** Validates the texts and dimensions as the provider does. */
export function embeddingJob(model: EmulatorModel, input: unknown, dimensions: unknown): EmbeddingJob {
  const texts = typeof input === 'string' ? [input] : input
  if (!Array.isArray(texts) || texts.length === 0 || !texts.every((t): t is string => typeof t === 'string' && t.length > 0)) {
    throw new Reject('invalid_parameter', 'The input must be a non-empty string or a non-empty array of non-empty strings.')
  }
  if (texts.length > MAX_EMBEDDING_BATCH) throw new Reject('invalid_parameter', `batch size is invalid, it should not be larger than ${MAX_EMBEDDING_BATCH}.: input.contents`)
  const allowed = model.embeddingDimensions ?? [1024]
  const dims = dimensions === undefined || dimensions === null ? allowed[0]! : dimensions
  if (typeof dims !== 'number' || !allowed.includes(dims)) throw new Reject('invalid_parameter', `Dimension should be one of [${allowed.join(', ')}].`)
  return { texts, dimensions: dims, tokens: texts.reduce((sum, t) => sum + countTokens(t), 0) }
}
