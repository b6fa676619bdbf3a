import { sql } from 'drizzle-orm';
import { index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

/** A broadcast: one WhatsApp message to many recipients, handed to its lane a window at a time. */
export const broadcasts = pgTable(
  'broadcasts',
  {
    id: uuid('id').primaryKey(),
    instanceId: text('instance_id').notNull(),
    tenantId: text('tenant_id').notNull(),
    /** The WhatsApp phone number id it sends from. */
    channelId: text('channel_id').notNull(),
    name: text('name'),
    /** The WhatsAppMessage; a template's per-recipient components are on the recipients. */
    message: jsonb('message').notNull(),
    state: text('state').notNull(),
    waitingReason: text('waiting_reason'),
    waitingUntil: timestamp('waiting_until', { withTimezone: true, mode: 'date' }),
    duplicates: integer('duplicates').notNull(),
    idempotencyKey: text('idempotency_key'),
    scheduledAt: timestamp('scheduled_at', { withTimezone: true, mode: 'date' }).notNull(),
    startedAt: timestamp('started_at', { withTimezone: true, mode: 'date' }),
    finishedAt: timestamp('finished_at', { withTimezone: true, mode: 'date' }),
    /** When the last progress event went out (they are spaced, not one per send). */
    progressAt: timestamp('progress_at', { withTimezone: true, mode: 'date' }),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [
    index('broadcasts_active_idx')
      .on(t.state)
      .where(sql`state in ('scheduled', 'running', 'waiting')`),
    uniqueIndex('broadcasts_idempotency_idx')
      .on(t.instanceId, t.idempotencyKey)
      .where(sql`idempotency_key is not null`),
  ],
);

/** Each distinct recipient of a broadcast, in the order given (`seq`), and where it stands. */
export const broadcastRecipients = pgTable(
  'broadcast_recipients',
  {
    broadcastId: uuid('broadcast_id').notNull(),
    seq: integer('seq').notNull(),
    /** Digits only: `+34 600…` and `34600…` are one WhatsApp user. */
    recipient: text('recipient').notNull(),
    components: jsonb('components'),
    state: text('state').notNull(),
    messageId: uuid('message_id'),
    error: jsonb('error'),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.broadcastId, t.seq] }),
    uniqueIndex('broadcast_recipients_recipient_idx').on(t.broadcastId, t.recipient),
    index('broadcast_recipients_state_idx').on(t.broadcastId, t.state, t.seq),
    index('broadcast_recipients_message_idx')
      .on(t.messageId)
      .where(sql`message_id is not null`),
  ],
);

/** A tenant's opted-out recipients: no broadcast reaches them. */
export const optOuts = pgTable(
  'opt_outs',
  {
    tenantId: text('tenant_id').notNull(),
    recipient: text('recipient').notNull(),
    source: text('source').notNull(),
    keyword: text('keyword'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.recipient] })],
);

/** When each customer last wrote to a WhatsApp number: its 24 h customer service window. */
export const customerWindows = pgTable(
  'customer_windows',
  {
    channelId: text('channel_id').notNull(),
    customer: text('customer').notNull(),
    lastInboundAt: timestamp('last_inbound_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.channelId, t.customer] })],
);

/**
 * Unique users a messaging-limit scope (a business portfolio) reached outside their service window,
 * and when last: the moving 24 h count Meta keeps, kept the same way.
 */
export const messagingReach = pgTable(
  'messaging_reach',
  {
    scope: text('scope').notNull(),
    customer: text('customer').notNull(),
    reachedAt: timestamp('reached_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.scope, t.customer] }), index('messaging_reach_scope_idx').on(t.scope, t.reachedAt)],
);
