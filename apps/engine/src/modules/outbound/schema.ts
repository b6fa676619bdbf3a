import { sql } from 'drizzle-orm';
import {
  bigint,
  doublePrecision,
  index,
  integer,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core';

/**
 * One row per lane (a channel: `platform:channelId`): the rate limiter's cursor and the lane's
 * controls. Claims lock this row (SKIP LOCKED), so replicas take turns on one lane and never wait
 * on another lane.
 */
export const outboundLanes = pgTable('outbound_lanes', {
  lane: text('lane').primaryKey(),
  /** The first free send slot, epoch ms with fractions: slots are 1000 / (cap × share) ms apart. */
  nextSlotMs: doublePrecision('next_slot_ms').notNull(),
  /** Slots are this many times further apart until `slowUntil` (Meta 130429 / 131048). */
  slowFactor: doublePrecision('slow_factor').notNull().default(1),
  slowUntil: timestamp('slow_until', { withTimezone: true, mode: 'date' }),
  /** Set while the lane is stopped (token refused): nothing is claimed until resumed. */
  pausedReason: text('paused_reason'),
  pausedAt: timestamp('paused_at', { withTimezone: true, mode: 'date' }),
});

/**
 * Sends waiting in their lane. A row lives from enqueue to the send's final outcome; `seq` keeps
 * FIFO order within a priority, and a retried item keeps its `seq` (its place).
 */
export const outboundItems = pgTable(
  'outbound_items',
  {
    messageId: text('message_id').primaryKey(),
    lane: text('lane').notNull(),
    /** 0 critical, 1 conversation, 2 marketing. */
    priority: smallint('priority').notNull(),
    seq: bigint('seq', { mode: 'number' }).generatedAlwaysAsIdentity().notNull(),
    recipient: text('recipient').notNull(),
    /** What the item belongs to beyond its message (a broadcast), to withdraw them together. */
    batch: text('batch'),
    notBefore: timestamp('not_before', { withTimezone: true, mode: 'date' }).notNull(),
    /** The worker holding the item, until `claimedUntil` (renewed by its heartbeat). */
    claimedBy: uuid('claimed_by'),
    claimedUntil: timestamp('claimed_until', { withTimezone: true, mode: 'date' }),
    /** Times the item was taken; above 1 a send may have reached Meta before (at-least-once). */
    claims: integer('claims').notNull().default(0),
    enqueuedAt: timestamp('enqueued_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [
    index('outbound_items_lane_order_idx').on(t.lane, t.priority, t.seq),
    index('outbound_items_batch_idx')
      .on(t.batch)
      .where(sql`batch is not null`),
    index('outbound_items_claimed_by_idx')
      .on(t.claimedBy)
      .where(sql`claimed_by is not null`),
  ],
);

/** A recipient whose sends in a lane wait (Meta 131056, pair rate) while the others go. */
export const outboundRecipientHolds = pgTable(
  'outbound_recipient_holds',
  {
    lane: text('lane').notNull(),
    recipient: text('recipient').notNull(),
    until: timestamp('until', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.lane, t.recipient] })],
);
