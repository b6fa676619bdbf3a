import { index, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/**
 * Tokens another plane (or an operator's tool) presents on this plane's `/internal` routes. Only a
 * SHA-256 of each token is stored: tokens are 256-bit random values, so a plain hash is enough.
 */
export const serviceTokens = pgTable(
  'service_tokens',
  {
    id: uuid('id').primaryKey(),
    caller: text('caller').notNull(),
    tokenHash: text('token_hash').notNull().unique(),
    last4: text('last4').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }),
    revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [index('service_tokens_caller_idx').on(t.caller)],
);
