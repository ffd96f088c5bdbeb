import { describe, expect, it } from 'vitest'
import { selectBranch } from './branch'
import type { MessageNode } from './conversations.repo'

let second = 0
const node = (id: string, role: MessageNode['role'], parentId: string | null): MessageNode => ({
  id,
  role,
  parentId,
  createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, ++second)).toISOString(),
})

describe('selectBranch', () => {
  // u1 → a1 | a1b (regenerated); a1b → u2 → a2 | u2b (edited) → a2b
  const nodes = [
    node('u1', 'user', null),
    node('a1', 'assistant', 'u1'),
    node('a1b', 'assistant', 'u1'),
    node('u2', 'user', 'a1b'),
    node('a2', 'assistant', 'u2'),
    node('u2b', 'user', 'a1b'),
    node('a2b', 'assistant', 'u2b'),
  ]
  const ids = (leaf?: string) => selectBranch(nodes, leaf)?.path.map((n) => n.id)

  it('follows the newest child from the root', () => {
    expect(ids()).toEqual(['u1', 'a1b', 'u2b', 'a2b'])
  })

  it('goes through a chosen message and continues by newest children', () => {
    expect(ids('a1')).toEqual(['u1', 'a1'])
    expect(ids('u2')).toEqual(['u1', 'a1b', 'u2', 'a2'])
    expect(ids('a1b')).toEqual(['u1', 'a1b', 'u2b', 'a2b'])
    expect(ids('missing')).toBeUndefined()
  })

  it('lists siblings of the same parent and role, oldest first', () => {
    const view = selectBranch(nodes)!
    expect(view.path.map((n) => view.siblingIds(n))).toEqual([['u1'], ['a1', 'a1b'], ['u2', 'u2b'], ['a2b']])
  })

  it('picks the newest root when the first message was edited, and copes with no messages', () => {
    const edited = [...nodes, node('u1b', 'user', null)]
    expect(selectBranch(edited)!.path.map((n) => n.id)).toEqual(['u1b'])
    expect(selectBranch(edited)!.siblingIds(edited.at(-1)!)).toEqual(['u1', 'u1b'])
    expect(selectBranch([])!.path).toEqual([])
  })

  it('stops at a cycle instead of looping forever', () => {
    const looped = [{ ...node('x', 'user', 'y') }, { ...node('y', 'assistant', 'x') }]
    expect(selectBranch(looped, 'x')!.path.map((n) => n.id)).toEqual(['y', 'x'])
  })
})
