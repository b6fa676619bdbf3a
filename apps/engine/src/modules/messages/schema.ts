import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

/**
 * Messages instances sent through `POST /v1/messages`: the record of each send (its lane item in
 * `outbound_items` exists only while it waits or is being sent).
 */
export const outboundMessages = pgTable(
  'outbound_messages',
  {
    id: uuid('id').primaryKey(),
    instanceId: text('instance_id').notNull(),
    tenantId: text('tenant_id').notNull(),
    /** The lane: `platform:channelId`. */
    channel: text('channel').notNull(),
    recipient: text('recipient').notNull(),
    priority: text('priority').notNull(),
    /** The validated SendMessageRequest, defaults applied. */
    request: jsonb('request').notNull(),
    state: text('state').notNull(),
    metaMessageId: text('meta_message_id'),
    /** The Graph-compatible API: Meta's call (`{ path, body }`) as the instance made it, sent as it is. */
    graphRequest: jsonb('graph_request'),
    /** Meta's answer (`{ status, body }`) to the call that settled it: sent, or failed for good. */
    graphAnswer: jsonb('graph_answer'),
    /** A send still queued at this time is given up on (its caller waited for Meta's answer). */
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }),
    /** When Meta accepted it: Messenger's watermarks cover the messages sent up to a time. */
    sentAt: timestamp('sent_at', { withTimezone: true, mode: 'date' }),
    /** Graph calls made for it. */
    attempts: integer('attempts').notNull().default(0),
    idempotencyKey: text('idempotency_key'),
    /** The broadcast the message is part of (its events say so); null for a single send. */
    broadcastId: uuid('broadcast_id'),
    /** SHA-256 of the validated request: a key reused with another body is refused. */
    requestHash: text('request_hash').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [
    uniqueIndex('outbound_messages_idempotency_idx')
      .on(t.instanceId, t.idempotencyKey)
      .where(sql`idempotency_key is not null`),
    index('outbound_messages_tenant_created_idx').on(t.tenantId, t.createdAt),
    index('outbound_messages_meta_id_idx')
      .on(t.metaMessageId)
      .where(sql`meta_message_id is not null`),
    index('outbound_messages_unread_idx')
      .on(t.channel, t.recipient, t.sentAt)
      .where(sql`state in ('sent', 'delivered')`),
  ],
);

/** Every state change of a message, oldest first (`seq`): its timeline. */
export const outboundMessageEvents = pgTable(
  'outbound_message_events',
  {
    seq: bigint('seq', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    messageId: uuid('message_id').notNull(),
    state: text('state').notNull(),
    at: timestamp('at', { withTimezone: true, mode: 'date' }).notNull(),
    /** The Graph call this entry is about (1 for the first), null for `queued` on acceptance. */
    attempt: integer('attempt'),
    /** MessageError: Meta's code, subcode, title and text. */
    error: jsonb('error'),
    isOutcomeUnknown: boolean('is_outcome_unknown').notNull().default(false),
  },
  (t) => [index('outbound_message_events_message_idx').on(t.messageId, t.seq)],
);

/**
 * Statuses Meta reported for a message id the engine has not recorded yet: the webhook can arrive
 * before the Graph call's answer is stored. They are applied when it is, and pruned after a while
 * (statuses of messages sent by other apps on the same number never match).
 */
export const earlyStatuses = pgTable(
  'early_statuses',
  {
    seq: bigint('seq', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    metaMessageId: text('meta_message_id').notNull(),
    state: text('state').notNull(),
    at: timestamp('at', { withTimezone: true, mode: 'date' }).notNull(),
    error: jsonb('error'),
    raw: jsonb('raw').notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [
    index('early_statuses_meta_id_idx').on(t.metaMessageId),
    index('early_statuses_received_idx').on(t.receivedAt),
  ],
);
