import { sql } from 'drizzle-orm';
import {
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

/**
 * One delivery per routed event. `conversation` and `seq` order the deliveries of one
 * conversation: a later one waits while an earlier one is still pending (being retried).
 */
export const deliveries = pgTable(
  'deliveries',
  {
    id: uuid('id').primaryKey(),
    eventId: uuid('event_id').notNull().unique(),
    instanceId: text('instance_id').notNull(),
    conversation: text('conversation').notNull(),
    seq: integer('seq').notNull(),
    state: text('state').notNull(),
    attempts: integer('attempts').notNull(),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true, mode: 'date' }).notNull(),
    /** The delivered event (DeliveredEvent), fixed when the delivery is created. */
    payload: jsonb('payload').notNull(),
    /** Where the event sat in Meta's body (MetaEnvelope), for an instance that takes Meta's format. */
    envelope: jsonb('envelope'),
    traceParent: text('trace_parent').notNull(),
    lastStatus: integer('last_status'),
    lastError: text('last_error'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    deliveredAt: timestamp('delivered_at', { withTimezone: true, mode: 'date' }),
    deadAt: timestamp('dead_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [
    uniqueIndex('deliveries_conversation_seq_idx').on(t.instanceId, t.conversation, t.seq),
    index('deliveries_pending_idx')
      .on(t.instanceId, t.conversation, t.seq)
      .where(sql`state = 'pending'`),
    index('deliveries_dead_idx')
      .on(t.instanceId, t.deadAt)
      .where(sql`state = 'dead'`),
  ],
);

/** Every attempt, for the operator's inspection of a delivery. */
export const deliveryAttempts = pgTable(
  'delivery_attempts',
  {
    id: uuid('id').primaryKey(),
    deliveryId: uuid('delivery_id').notNull(),
    attempt: integer('attempt').notNull(),
    at: timestamp('at', { withTimezone: true, mode: 'date' }).notNull(),
    outcome: text('outcome').notNull(),
    status: integer('status'),
    durationMs: integer('duration_ms').notNull(),
    error: text('error'),
  },
  (t) => [index('delivery_attempts_delivery_idx').on(t.deliveryId)],
);

/** The last sequence number given in each conversation of each instance. */
export const conversationSequences = pgTable(
  'conversation_sequences',
  {
    instanceId: text('instance_id').notNull(),
    conversation: text('conversation').notNull(),
    lastSeq: integer('last_seq').notNull(),
  },
  (t) => [primaryKey({ columns: [t.instanceId, t.conversation] })],
);

/**
 * Who is delivering a conversation now. A drain claims its conversation before sending and renews
 * the claim while it works, so two replicas never send one conversation at once; a claim left by
 * a crashed process expires.
 */
export const conversationLeases = pgTable(
  'conversation_leases',
  {
    instanceId: text('instance_id').notNull(),
    conversation: text('conversation').notNull(),
    holder: uuid('holder').notNull(),
    leasedUntil: timestamp('leased_until', { withTimezone: true, mode: 'date' }).notNull(),
    /** Another drain was turned away while the lease was held: the holder looks again at the end. */
    contended: boolean('contended').notNull().default(false),
  },
  (t) => [primaryKey({ columns: [t.instanceId, t.conversation] })],
);

/** Circuit breaker per instance endpoint, shared by every worker replica through the database. */
export const endpointBreakers = pgTable('endpoint_breakers', {
  instanceId: text('instance_id').primaryKey(),
  state: text('state').notNull(),
  consecutiveFailures: integer('consecutive_failures').notNull(),
  openedAt: timestamp('opened_at', { withTimezone: true, mode: 'date' }),
  probeAt: timestamp('probe_at', { withTimezone: true, mode: 'date' }),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull(),
});

/** Alerts raised by the engine (breaker opened or closed, endpoint disabled), for control. */
export const engineAlerts = pgTable('engine_alerts', {
  id: uuid('id').primaryKey(),
  kind: text('kind').notNull(),
  instanceId: text('instance_id'),
  detail: jsonb('detail').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
});
