import { pgTable, timestamp, uuid } from 'drizzle-orm/pg-core';

/**
 * Queue heartbeats: a row written in the same transaction as its job, stamped by the worker that
 * runs the job. Each plane owns its own copy of this table (it is in each plane's migrations).
 */
export const queueHeartbeats = pgTable('queue_heartbeats', {
  id: uuid('id').primaryKey(),
  enqueuedAt: timestamp('enqueued_at', { withTimezone: true, mode: 'date' }).notNull(),
  processedAt: timestamp('processed_at', { withTimezone: true, mode: 'date' }),
});
