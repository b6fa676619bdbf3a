import { jsonb, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import type { ChannelConnectionError } from '@mic/contracts';

/**
 * Each channel's connection to Meta: the object its Meta app is subscribed to (WhatsApp Business
 * Account or page) and how the last subscription went. The token itself is in the secret store.
 */
export const channelConnections = pgTable(
  'channel_connections',
  {
    platform: text('platform').notNull(),
    channelId: text('channel_id').notNull(),
    objectId: text('object_id').notNull(),
    metaApp: text('meta_app').notNull(),
    /** subscribed | failed | unsubscribed */
    state: text('state').notNull(),
    subscribedAt: timestamp('subscribed_at', { withTimezone: true, mode: 'date' }),
    lastError: jsonb('last_error').$type<ChannelConnectionError>(),
    /**
     * Set while background retries of a failed subscription go on; each retry job carries it, so a
     * newer connect or resubscribe (a new id) ends the older chain of retries.
     */
    retryId: uuid('retry_id'),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.platform, t.channelId] })],
);
