import { bigint, index, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/**
 * The people who run MIC. `password_hash` is argon2id (PHC string); emails are stored lowercased.
 * `totp_secret` is AES-256-GCM ciphertext under control's second-factor key (never the secret in
 * clear); it is set at enrolment and counts only once `totp_enabled_at` is set by a confirmed code.
 * `totp_last_step` is the last 30 s step a code was accepted for, so a code is never accepted twice.
 */
export const operators = pgTable('operators', {
  id: text('id').primaryKey(),
  email: text('email').notNull().unique(),
  name: text('name').notNull(),
  role: text('role').notNull(),
  passwordHash: text('password_hash').notNull(),
  disabledAt: timestamp('disabled_at', { withTimezone: true, mode: 'date' }),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull(),
  lastLoginAt: timestamp('last_login_at', { withTimezone: true, mode: 'date' }),
  passwordChangedAt: timestamp('password_changed_at', { withTimezone: true, mode: 'date' }).notNull(),
  /** `es` or `en`: the language of the e-mails this operator gets. */
  locale: text('locale').notNull().default('es'),
  totpSecret: text('totp_secret'),
  totpEnabledAt: timestamp('totp_enabled_at', { withTimezone: true, mode: 'date' }),
  totpLastStep: bigint('totp_last_step', { mode: 'number' }),
});

/**
 * Signed-in sessions. `id` is the SHA-256 (hex) of the cookie's token: the token itself is never
 * stored, so a copy of this table signs nobody in. `expires_at` moves with use (idle timeout) up to
 * `created_at` + the absolute maximum.
 */
export const operatorSessions = pgTable(
  'operator_sessions',
  {
    id: text('id').primaryKey(),
    operatorId: text('operator_id')
      .notNull()
      .references(() => operators.id, { onDelete: 'cascade' }),
    csrfToken: text('csrf_token').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    lastSeenAt: timestamp('last_seen_at', { withTimezone: true, mode: 'date' }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
    ip: text('ip'),
    userAgent: text('user_agent'),
    /** `full`, or `enrolment`: signed in with the password only, allowed nothing but to enrol a second factor. */
    scope: text('scope').notNull().default('full'),
  },
  (t) => [
    index('operator_sessions_operator_idx').on(t.operatorId),
    index('operator_sessions_expires_idx').on(t.expiresAt),
  ],
);

/** Failed logins, kept for the length of the rate-limit window (per email and per address). */
export const loginFailures = pgTable(
  'login_failures',
  {
    id: uuid('id').primaryKey(),
    email: text('email').notNull(),
    ip: text('ip').notNull(),
    at: timestamp('at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [index('login_failures_email_idx').on(t.email, t.at), index('login_failures_ip_idx').on(t.ip, t.at)],
);

/**
 * A sign-in that passed the password and waits for the second factor. `id` is the SHA-256 of the
 * challenge token handed to the client (never stored); it lasts minutes and is deleted when used.
 */
export const operatorLoginChallenges = pgTable(
  'operator_login_challenges',
  {
    id: text('id').primaryKey(),
    operatorId: text('operator_id')
      .notNull()
      .references(() => operators.id, { onDelete: 'cascade' }),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
    ip: text('ip'),
  },
  (t) => [index('operator_login_challenges_operator_idx').on(t.operatorId)],
);

/** Single-use recovery codes for a lost second-factor device: SHA-256 of each code, never the code. */
export const operatorRecoveryCodes = pgTable(
  'operator_recovery_codes',
  {
    id: uuid('id').primaryKey(),
    operatorId: text('operator_id')
      .notNull()
      .references(() => operators.id, { onDelete: 'cascade' }),
    codeHash: text('code_hash').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [index('operator_recovery_codes_operator_idx').on(t.operatorId)],
);

/**
 * "Forgot password" links. `id` is the SHA-256 of the token in the e-mailed link (the token is never
 * stored); a link works once (`used_at`) and until `expires_at`.
 */
export const operatorPasswordResets = pgTable(
  'operator_password_resets',
  {
    id: text('id').primaryKey(),
    operatorId: text('operator_id')
      .notNull()
      .references(() => operators.id, { onDelete: 'cascade' }),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true, mode: 'date' }),
    ip: text('ip'),
  },
  (t) => [index('operator_password_resets_operator_idx').on(t.operatorId, t.createdAt)],
);

/** Every "forgot password" request, by client address, for its rate limit; pruned past the window. */
export const passwordResetRequests = pgTable(
  'password_reset_requests',
  {
    id: uuid('id').primaryKey(),
    ip: text('ip').notNull(),
    at: timestamp('at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [index('password_reset_requests_ip_idx').on(t.ip, t.at)],
);
