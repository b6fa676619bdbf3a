import { index, integer, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * Broadcasts on the hub's own WhatsApp numbers: the request (a segment already resolved into its
 * recipients) waits here with its outbox job until the engine takes it; then the engine's state and
 * totals, kept current by its `whatsapp.broadcast.<event>` events.
 */
export const hubBroadcasts = pgTable(
  'hub_broadcasts',
  {
    id: uuid('id').primaryKey(),
    /** The CreateBroadcastRequest handed to the engine. */
    request: jsonb('request').notNull(),
    segmentId: text('segment_id'),
    recipientCount: integer('recipient_count').notNull(),
    state: text('state').notNull(),
    engineBroadcastId: text('engine_broadcast_id'),
    totals: jsonb('totals'),
    waitingReason: text('waiting_reason'),
    error: jsonb('error'),
    createdBy: text('created_by'),
    createdAt: at('created_at').notNull(),
    updatedAt: at('updated_at').notNull(),
  },
  (t) => [
    index('hub_broadcasts_engine_idx').on(t.engineBroadcastId),
    index('hub_broadcasts_created_idx').on(t.createdAt),
  ],
);
