import { bigint, integer, pgTable, timestamp } from 'drizzle-orm/pg-core';

/** One row: the version of the configuration the engine should run, raised by every change. */
export const configVersion = pgTable('config_version', {
  id: integer('id').primaryKey(),
  version: bigint('version', { mode: 'number' }).notNull(),
  changedAt: timestamp('changed_at', { withTimezone: true, mode: 'date' }).notNull(),
});
