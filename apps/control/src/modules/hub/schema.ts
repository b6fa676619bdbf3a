import { jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import type { DeliveredEvent } from '@mic/contracts';

/** Events of the hub's own channels, as the engine delivered them (the CRM turns them into conversations). */
export const hubEvents = pgTable('hub_events', {
  id: text('id').primaryKey(),
  type: text('type').notNull(),
  channelKind: text('channel_kind').notNull(),
  channelId: text('channel_id').notNull(),
  conversationId: text('conversation_id'),
  event: jsonb('event').$type<DeliveredEvent>().notNull(),
  receivedAt: timestamp('received_at', { withTimezone: true, mode: 'date' }).notNull(),
});
