import { index, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/** Instance API tokens: only a SHA-256 of each (256-bit random) token is kept. */
export const instanceTokens = pgTable(
  'instance_tokens',
  {
    id: uuid('id').primaryKey(),
    instanceId: text('instance_id').notNull(),
    tokenHash: text('token_hash').notNull().unique(),
    last4: text('last4').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [index('instance_tokens_instance_idx').on(t.instanceId)],
);
