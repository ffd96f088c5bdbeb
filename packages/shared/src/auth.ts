import { z } from 'zod'

/** Passwords are 8–128 characters (counted as Unicode code points), never truncated. */
export const PASSWORD_MIN = 8
export const PASSWORD_MAX = 128

export const RoleSchema = z.enum(['user', 'admin'])
export type Role = z.infer<typeof RoleSchema>

export const UserStatusSchema = z.enum(['active', 'disabled'])
export type UserStatus = z.infer<typeof UserStatusSchema>

/** Free-form UI preferences the browser keeps on the account (language, theme, …). */
export const PreferencesSchema = z
  .object({
    language: z.enum(['zh-CN', 'en']).optional(),
    theme: z.enum(['light', 'dark', 'system']).optional(),
    defaultModel: z.string().max(100).optional(),
  })
  .strict()
export type Preferences = z.infer<typeof PreferencesSchema>

/** The public view of an account. Never carries hashes, tokens or key material. */
export const UserSchema = z.object({
  id: z.string(),
  email: z.string(),
  username: z.string().nullable(),
  displayName: z.string().nullable(),
  role: RoleSchema,
  status: UserStatusSchema,
  balance: z.number().int(),
  createdAt: z.string(),
  preferences: PreferencesSchema,
})
export type User = z.infer<typeof UserSchema>

// Passwords are only length-checked here so a 1 MB body fails fast; the breach list and the
// exact code (PASSWORD_TOO_SHORT / PASSWORD_TOO_LONG) come from the server's policy.
const passwordInput = z.string().max(4096)

export const RegisterBodySchema = z
  .object({
    email: z.string().trim().toLowerCase().email().max(254),
    password: passwordInput,
    username: z
      .string()
      .trim()
      .regex(/^[a-zA-Z0-9_][a-zA-Z0-9_.-]{2,31}$/, 'letters, digits, _ . -; 3–32 characters')
      .optional(),
    displayName: z.string().trim().min(1).max(64).optional(),
  })
  .strict()
export type RegisterBody = z.infer<typeof RegisterBodySchema>

export const LoginBodySchema = z
  .object({ login: z.string().trim().min(1).max(254), password: passwordInput })
  .strict()
export type LoginBody = z.infer<typeof LoginBodySchema>

export const RefreshBodySchema = z.object({ refreshToken: z.string().min(1).max(512).optional() }).strict()
export type RefreshBody = z.infer<typeof RefreshBodySchema>

export const AuthResultSchema = z.object({
  user: UserSchema,
  accessToken: z.string(),
  refreshToken: z.string(),
  expiresIn: z.number().int(),
})
export type AuthResult = z.infer<typeof AuthResultSchema>

export const SessionSchema = z.object({
  id: z.string(),
  device: z.string().nullable(),
  ip: z.string().nullable(),
  createdAt: z.string(),
  lastUsedAt: z.string(),
  current: z.boolean(),
})
export type Session = z.infer<typeof SessionSchema>

export const UpdateMeBodySchema = z
  .object({
    displayName: z.string().trim().min(1).max(64).nullable().optional(),
    preferences: PreferencesSchema.optional(),
  })
  .strict()
export type UpdateMeBody = z.infer<typeof UpdateMeBodySchema>

export const ChangePasswordBodySchema = z
  .object({ currentPassword: passwordInput, newPassword: passwordInput })
  .strict()
export type ChangePasswordBody = z.infer<typeof ChangePasswordBodySchema>

/** `GET /.well-known/jwks.json`: the public keys that verify access tokens, tagged by `kid`. */
export const JwksSchema = z.object({
  keys: z.array(
    z.object({ kty: z.string(), kid: z.string(), alg: z.string(), use: z.string(), n: z.string(), e: z.string() }),
  ),
})
export type Jwks = z.infer<typeof JwksSchema>

/** An account as the admin console lists it: the public view plus usage totals. */
export const AdminUserSchema = UserSchema.extend({
  updatedAt: z.string(),
  usage: z.object({ calls: z.number().int(), cost: z.number().int() }),
})
export type AdminUser = z.infer<typeof AdminUserSchema>

export const AdminUserQuerySchema = z.object({
  q: z.string().trim().max(100).optional(),
  role: RoleSchema.optional(),
  status: UserStatusSchema.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
})
export type AdminUserQuery = z.infer<typeof AdminUserQuerySchema>

export const AdminUpdateUserBodySchema = z
  .object({ role: RoleSchema.optional(), status: UserStatusSchema.optional() })
  .strict()
export type AdminUpdateUserBody = z.infer<typeof AdminUpdateUserBodySchema>

export const AuditSeveritySchema = z.enum(['info', 'warning', 'high'])
export type AuditSeverity = z.infer<typeof AuditSeveritySchema>

/** One audit-log row. `details` never carries secrets. */
export const AuditLogSchema = z.object({
  id: z.string(),
  actorId: z.string().nullable(),
  action: z.string(),
  targetType: z.string().nullable(),
  targetId: z.string().nullable(),
  severity: AuditSeveritySchema,
  ip: z.string().nullable(),
  userAgent: z.string().nullable(),
  details: z.record(z.string(), z.unknown()).nullable(),
  createdAt: z.string(),
})
export type AuditLog = z.infer<typeof AuditLogSchema>

export const AuditLogQuerySchema = z.object({
  action: z.string().trim().max(64).optional(),
  actorId: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
})
export type AuditLogQuery = z.infer<typeof AuditLogQuerySchema>
