import { bigint, integer, jsonb, pgTable, timestamp } from 'drizzle-orm/pg-core';
import type { ConfigSnapshot } from '@mic/contracts';

/** The last snapshot control published: the engine runs from it, also after a restart with control down. */
export const configSnapshots = pgTable('config_snapshot', {
  id: integer('id').primaryKey(),
  version: bigint('version', { mode: 'number' }).notNull(),
  body: jsonb('body').$type<ConfigSnapshot>().notNull(),
  fetchedAt: timestamp('fetched_at', { withTimezone: true, mode: 'date' }).notNull(),
});
