import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import type { Insertable } from 'kysely'
import type { FastifyBaseLogger } from 'fastify'
import type { ApiCallsTable } from '../../db/schema'
import { newId } from '../../ids'

/**
 * The durable outbox of batched /v1 settlement (ADR 0004, SECURITY invariant 3): a settled call is
 * appended to a local file in the event-loop turn that answers it — the lines of one turn go out
 * in one `write(2)` (group commit) — and the file is deleted once every call in it is committed to
 * SQL. A process killed between the two leaves the file;
 * the next boot replays it through the idempotent settlement (unique `request_id` and ledger
 * `ref`), so a call is neither lost nor charged twice. A written line survives the death of the
 * process (it is in the page cache), not the loss of the machine — the durability SQLite's WAL
 * gives with `synchronous = NORMAL`.
 *
 * Files are segments: `rotate()` closes the current one at each batch, so a segment's calls are
 * committed together and the file goes soon after. Names carry host, pid and a random instance id
 * (`<host>~<pid>~<instance>~<n>.jsonl`).
 */

export interface JournalEntry {
  /** The lease the call was admitted on (`credit_reservations.request_id`). */
  lease: string
  userId: string
  cost: number
  row: Insertable<ApiCallsTable>
}

export interface JournalSegment {
  readonly file: string
  fd: number | undefined
  /** Entries written and not yet committed to SQL. */
  open: number
  closed: boolean
}

const SEP = '~'

export function createUsageJournal(dir: string, logger: Pick<FastifyBaseLogger, 'error' | 'warn' | 'info'>) {
  const host = hostname().replaceAll(SEP, '-')
  const instance = newId()
  let seq = 0
  let current: JournalSegment | undefined
  let broken = false
  /** Lines of this turn not yet written, and the segment they belong to. */
  let lines: string[] = []
  let scheduled = false
  mkdirSync(dir, { recursive: true })

  /** Writes this turn's lines with one system call. */
  function write(): void {
    scheduled = false
    if (lines.length === 0 || !current || current.fd === undefined) return
    const text = lines.length === 1 ? lines[0]! : lines.join('')
    lines = []
    try {
      writeSync(current.fd, text)
    } catch (err) {
      broken = true
      logger.error({ err, dir }, 'usage journal cannot be written; batched usage is no longer crash-safe')
    }
  }

  function unlink(seg: JournalSegment): void {
    try {
      unlinkSync(seg.file)
    } catch (err) {
      logger.warn({ err, file: seg.file }, 'usage journal segment not removed')
    }
  }

  function close(seg: JournalSegment): void {
    if (seg === current) write()
    if (seg.fd !== undefined) closeSync(seg.fd)
    seg.fd = undefined
    seg.closed = true
    if (seg.open === 0) unlink(seg)
  }

  return {
    dir,

    /**
     * Appends one settled call; it reaches the file at the end of this event-loop turn, with the
     * other calls settled in it. A journal that cannot be written (disk full) is logged once and
     * skipped from then on: the calls still settle through the in-memory queue, only without
     * crash protection.
     */
    append(entry: JournalEntry): JournalSegment | undefined {
      if (broken) return undefined
      try {
        if (!current) {
          const file = join(dir, `${host}${SEP}${process.pid}${SEP}${instance}${SEP}${++seq}.jsonl`)
          current = { file, fd: openSync(file, 'a'), open: 0, closed: false }
        }
        lines.push(`${JSON.stringify(entry)}\n`)
        if (!scheduled) {
          scheduled = true
          setImmediate(write)
        }
        current.open++
        return current
      } catch (err) {
        broken = true
        logger.error({ err, dir }, 'usage journal cannot be written; batched usage is no longer crash-safe')
        return undefined
      }
    },

    /** Closes the current segment (writing what it still has): what follows goes to a new file. */
    rotate(): void {
      if (!current) return
      const seg = current
      close(seg)
      current = undefined
    },

    /** One entry of `seg` is committed to SQL; the file goes when all are. */
    committed(seg: JournalSegment | undefined): void {
      if (!seg) return
      seg.open--
      if (seg.closed && seg.open === 0) unlink(seg)
    },

    /**
     * Segments left by processes that are gone: on this host, a pid that no longer runs (or is
     * ours, reused: this instance has written nothing yet); from other hosts sharing the
     * directory, anything. Each with its readable entries (a torn last line is skipped: its
     * call was never answered).
     */
    leftovers(): Array<{ segment: JournalSegment; entries: JournalEntry[] }> {
      const out: Array<{ segment: JournalSegment; entries: JournalEntry[] }> = []
      for (const name of readdirSync(dir)) {
        if (!name.endsWith('.jsonl')) continue
        const [fileHost, pidText, fileInstance] = name.split(SEP)
        if (fileInstance === instance) continue
        if (fileHost === host && Number(pidText) !== process.pid && alive(Number(pidText))) continue
        const file = join(dir, name)
        const entries: JournalEntry[] = []
        for (const line of readFileSync(file, 'utf8').split('\n')) {
          if (!line) continue
          try {
            entries.push(JSON.parse(line) as JournalEntry)
          } catch {
            logger.warn({ file }, 'usage journal: a torn line skipped')
          }
        }
        out.push({ segment: { file, fd: undefined, open: entries.length, closed: true }, entries })
      }
      return out
    },
  }
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export type UsageJournal = ReturnType<typeof createUsageJournal>
