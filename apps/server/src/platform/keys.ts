import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../config'
import type { JwtKeySet, MasterKeySet } from '../context'

function pemOrFile(value: string): string {
  return value.includes('-----BEGIN') ? value.replace(/\\n/g, '\n') : readFileSync(value, 'utf8')
}

/** Key id = first 16 hex characters of the SHA-256 of the public key's DER. Stable, not secret. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16)
}

/**
 * The RS256 keys. From configuration when given; otherwise, outside production, generated once
 * into the data dir (with a warning). Production never reaches the generation branch because
 * loadConfig refuses to boot without QIAO_JWT_PRIVATE_KEY.
 */
export function loadJwtKeys(config: Readonly<Config>, log: FastifyBaseLogger): JwtKeySet {
  let privatePem: string
  if (config.QIAO_JWT_PRIVATE_KEY) {
    privatePem = pemOrFile(config.QIAO_JWT_PRIVATE_KEY)
  } else {
    if (config.isProduction) throw new Error('QIAO_JWT_PRIVATE_KEY is required in production')
    const file = join(config.QIAO_DATA_DIR, 'jwt-private.pem')
    if (!existsSync(file)) {
      mkdirSync(config.QIAO_DATA_DIR, { recursive: true })
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
      writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 })
      log.warn({ file }, 'generated a JWT signing key for development; set QIAO_JWT_PRIVATE_KEY in production')
    }
    privatePem = readFileSync(file, 'utf8')
  }
  const privateKey = createPrivateKey(privatePem)
  const publicKey = createPublicKey(privateKey)
  const previous = (config.QIAO_JWT_PREVIOUS_PUBLIC_KEYS ?? []).map((v) => {
    const key = createPublicKey(pemOrFile(v))
    return { kid: keyIdOf(key), publicKey: key }
  })
  return { current: { kid: keyIdOf(publicKey), privateKey, publicKey }, previous }
}

/** Master key id = first 12 hex characters of SHA-256 of the key; stored beside each ciphertext. */
export function masterKeyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12)
}

/** The vault's master keys: from QIAO_MASTER_KEY(S_OLD), or generated into the data dir in development. */
export function loadMasterKeys(config: Readonly<Config>, log: FastifyBaseLogger): MasterKeySet {
  let current: Buffer
  if (config.QIAO_MASTER_KEY) {
    current = Buffer.from(config.QIAO_MASTER_KEY, 'base64')
  } else {
    if (config.isProduction) throw new Error('QIAO_MASTER_KEY is required in production')
    const file = join(config.QIAO_DATA_DIR, 'master.key')
    if (!existsSync(file)) {
      mkdirSync(config.QIAO_DATA_DIR, { recursive: true })
      writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600 })
      log.warn({ file }, 'generated a master key for development; set QIAO_MASTER_KEY in production')
    }
    current = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64')
  }
  const old = (config.QIAO_MASTER_KEYS_OLD ?? []).map((v) => {
    const key = Buffer.from(v, 'base64')
    return { id: masterKeyId(key), key }
  })
  return { current: { id: masterKeyId(current), key: current }, old }
}
