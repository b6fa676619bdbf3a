import { integer, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * What control knows of a secret kept by the engine: its name, a fingerprint and its last 4
 * characters. Never the value: control cannot read a secret back, by design.
 */
export const secretRefs = pgTable('secret_refs', {
  ref: text('ref').primaryKey(),
  kind: text('kind').notNull(),
  version: integer('version').notNull(),
  fingerprint: text('fingerprint').notNull(),
  last4: text('last4').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull(),
});
