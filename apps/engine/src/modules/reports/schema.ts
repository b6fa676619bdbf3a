import { sql } from 'drizzle-orm';
import { index, integer, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/**
 * Reports for control (alerts, usage, delivery stats), written in the transaction of what they
 * report and sent until control accepts them. A sent row keeps `sent_at` for a retention period.
 */
export const reportOutbox = pgTable(
  'report_outbox',
  {
    id: uuid('id').primaryKey(),
    kind: text('kind').notNull(),
    /** The EngineReport as sent. */
    payload: jsonb('payload').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    sentAt: timestamp('sent_at', { withTimezone: true, mode: 'date' }),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [
    index('report_outbox_unsent_idx')
      .on(t.nextAttemptAt, t.id)
      .where(sql`sent_at is null`),
    index('report_outbox_sent_idx')
      .on(t.sentAt)
      .where(sql`sent_at is not null`),
  ],
);

/** Which engine process drains the outbox: one at a time, the claim expiring if it dies. */
export const reportLeases = pgTable('report_leases', {
  name: text('name').primaryKey(),
  holder: text('holder').notNull(),
  leasedUntil: timestamp('leased_until', { withTimezone: true, mode: 'date' }).notNull(),
});
