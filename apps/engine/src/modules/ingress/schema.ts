import { sql } from 'drizzle-orm';
import { index, integer, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/** Every signed webhook body accepted from Meta, byte for byte as it arrived. */
export const webhookReceipts = pgTable('webhook_receipts', {
  id: uuid('id').primaryKey(),
  app: text('app').notNull(),
  body: text('body').notNull(),
  eventCount: integer('event_count').notNull(),
  newEventCount: integer('new_event_count').notNull(),
  traceParent: text('trace_parent').notNull(),
  receivedAt: timestamp('received_at', { withTimezone: true, mode: 'date' }).notNull(),
});

/**
 * One row per distinct event (Meta delivers at least once: `dedup_key` keeps repeats out). An event
 * whose channel has no instance yet is `unrouted` and waits for one.
 */
export const inboundEvents = pgTable(
  'inbound_events',
  {
    id: uuid('id').primaryKey(),
    receiptId: uuid('receipt_id').notNull(),
    dedupKey: text('dedup_key').notNull().unique(),
    type: text('type').notNull(),
    platform: text('platform').notNull(),
    channelId: text('channel_id'),
    businessAccountId: text('business_account_id'),
    conversationKey: text('conversation_key'),
    routeState: text('route_state').notNull(),
    instanceId: text('instance_id'),
    tenantId: text('tenant_id'),
    traceParent: text('trace_parent').notNull(),
    occurredAt: timestamp('occurred_at', { withTimezone: true, mode: 'date' }).notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true, mode: 'date' }).notNull(),
    data: jsonb('data').notNull(),
    raw: jsonb('raw').notNull(),
    /** Where `raw` sat in Meta's body (MetaEnvelope): Meta-format delivery rebuilds the body from it. */
    envelope: jsonb('envelope'),
  },
  (t) => [
    index('inbound_events_unrouted_idx')
      .on(t.platform, t.channelId)
      .where(sql`route_state = 'unrouted'`),
    index('inbound_events_instance_idx').on(t.instanceId, t.receivedAt),
  ],
);
