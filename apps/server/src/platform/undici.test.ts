import * as undici from 'undici'
import { describe, expect, it } from 'vitest'
import { Agent, buildConnector } from './undici'

describe('the undici files loaded on their own', () => {
  it('are the objects the package index exports', () => {
    expect(Agent).toBe(undici.Agent)
    expect(buildConnector).toBe(undici.buildConnector)
  })
})
