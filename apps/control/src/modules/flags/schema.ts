import { boolean, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/** Global flags the operator has set; a flag without a row has its default (on). */
export const featureFlags = pgTable('feature_flags', {
  key: text('key').primaryKey(),
  enabled: boolean('enabled').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull(),
  updatedBy: text('updated_by'),
});
