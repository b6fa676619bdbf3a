import { bigint, index, integer, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/**
 * The WhatsApp media ids an instance may reach through the Graph-compatible API: those it uploaded
 * through the engine and those that arrived in inbound messages routed to it. An id missing here is
 * answered as Meta answers an id that does not exist.
 */
export const graphMedia = pgTable(
  'graph_media',
  {
    instanceId: text('instance_id').notNull(),
    /** Meta's media id. */
    mediaId: text('media_id').notNull(),
    tenantId: text('tenant_id').notNull(),
    /** The phone number id whose token reaches the media at Meta. */
    channelId: text('channel_id').notNull(),
    /** `uploaded` through the engine, or `received` in an inbound message. */
    origin: text('origin').notNull(),
    /** Meta's short-lived download URL from the last lookup, reused while it is fresh. */
    metaUrl: text('meta_url'),
    metaUrlAt: timestamp('meta_url_at', { withTimezone: true, mode: 'date' }),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    /** When Meta forgets the id (30 days after an upload, 7 after a webhook); the row goes a day later. */
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.instanceId, t.mediaId] }), index('graph_media_expires_idx').on(t.expiresAt)],
);

/** Every media call an instance made through the Graph-compatible API, with Meta's (or the engine's) answer. */
export const graphMediaCalls = pgTable(
  'graph_media_calls',
  {
    id: uuid('id').primaryKey(),
    instanceId: text('instance_id').notNull(),
    tenantId: text('tenant_id').notNull(),
    /** upload, lookup, download, delete */
    action: text('action').notNull(),
    /** Null for an upload that got no id. */
    mediaId: text('media_id'),
    channelId: text('channel_id'),
    /** The HTTP status answered to the instance. */
    status: integer('status').notNull(),
    /** The Graph error code answered, null on success. */
    code: integer('code'),
    /** Uploads: the file's size; downloads: the size Meta announced. */
    bytes: bigint('bytes', { mode: 'number' }),
    at: timestamp('at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [index('graph_media_calls_instance_at_idx').on(t.instanceId, t.at)],
);
