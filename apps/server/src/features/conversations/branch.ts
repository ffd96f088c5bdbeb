import type { MessageNode } from './conversations.repo'

/**
 * Messages form a tree through `parentId`: a user message's parent is the assistant message it
 * follows (null for the first), an assistant message's parent is the user message it answers.
 * Regenerating adds an assistant sibling; editing adds a user sibling. A "branch" is one path
 * from a root down to a leaf.
 */
export interface BranchView {
  /** The selected path, oldest first. */
  path: MessageNode[]
  /** Ids of a message's siblings (same parent, same role), oldest first, itself included. */
  siblingIds(node: MessageNode): string[]
}

const ROOT = '\u0000root'

/** `nodes` must be ordered oldest first (createdAt, then id). */
export function selectBranch(nodes: MessageNode[], leafId?: string): BranchView | undefined {
  const byId = new Map(nodes.map((n) => [n.id, n]))
  const children = new Map<string, MessageNode[]>()
  for (const n of nodes) {
    const key = n.parentId ?? ROOT
    const list = children.get(key)
    if (list) list.push(n)
    else children.set(key, [n])
  }

  const path: MessageNode[] = []
  const seen = new Set<string>()
  if (leafId !== undefined) {
    // Up from the requested message to its root...
    let node = byId.get(leafId)
    if (!node) return undefined
    while (node && !seen.has(node.id)) {
      seen.add(node.id)
      path.push(node)
      node = node.parentId ? byId.get(node.parentId) : undefined
    }
    path.reverse()
  } else {
    const root = children.get(ROOT)?.at(-1)
    if (root) {
      path.push(root)
      seen.add(root.id)
    }
  }
  // ...then down, taking the newest child at each step (the latest regenerate or edit).
  for (let node = path.at(-1); node;) {
    const next: MessageNode | undefined = children.get(node.id)?.at(-1)
    if (!next || seen.has(next.id)) break
    seen.add(next.id)
    path.push(next)
    node = next
  }

  return {
    path,
    siblingIds: (node) =>
      (children.get(node.parentId ?? ROOT) ?? []).filter((s) => s.role === node.role).map((s) => s.id),
  }
}
