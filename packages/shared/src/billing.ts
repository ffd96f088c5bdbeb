import { z } from 'zod'
import { AdminUserSchema } from './auth'
import { MAX_MONEY } from './settings'

/** GET /api/billing/balance. Money in micro-yuan; `available` = `balance` − `reserved`. */
export const BalanceSchema = z.object({
  balance: z.number().int(),
  /** Held for requests in flight; returned or charged when they finish. */
  reserved: z.number().int(),
  available: z.number().int(),
})
export type Balance = z.infer<typeof BalanceSchema>

export const LedgerReasonSchema = z.enum(['signup', 'usage', 'admin_adjust', 'topup', 'redeem', 'refund'])
export type LedgerReason = z.infer<typeof LedgerReasonSchema>

/** One credit-ledger entry: the only way a balance ever changes. */
export const LedgerEntrySchema = z.object({
  id: z.string(),
  /** Signed micro-yuan. */
  delta: z.number().int(),
  balanceAfter: z.number().int(),
  reason: LedgerReasonSchema,
  /** What the entry is for (`usage:<requestId>`, `signup:<userId>`, `admin:<id>`); unique. */
  ref: z.string(),
  note: z.string().nullable(),
  createdAt: z.string(),
})
export type LedgerEntry = z.infer<typeof LedgerEntrySchema>

/**
 * POST /api/admin/users/:id/balance. A non-zero integer number of micro-yuan (strings such as
 * `"1e9"`, fractions, NaN and values beyond ±1,000,000 yuan are refused — SECURITY.md D4).
 */
export const AdminBalanceBodySchema = z
  .object({
    delta: z
      .number()
      .int()
      .min(-MAX_MONEY)
      .max(MAX_MONEY)
      .refine((v) => v !== 0, 'delta must not be zero'),
    /** Why; stored as the ledger entry's note and in the audit log. */
    reason: z.string().trim().min(1).max(500),
  })
  .strict()
export type AdminBalanceBody = z.infer<typeof AdminBalanceBodySchema>

export const AdminBalanceResultSchema = z.object({ user: AdminUserSchema, entry: LedgerEntrySchema })
export type AdminBalanceResult = z.infer<typeof AdminBalanceResultSchema>
