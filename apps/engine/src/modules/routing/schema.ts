import { integer, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';

/** The instances the engine delivers to: where, in which format, in which state (from control's snapshot). */
export const instanceRoutes = pgTable('instance_routes', {
  instanceId: text('instance_id').primaryKey(),
  tenantId: text('tenant_id').notNull(),
  /** `hub`: control's own instance, reached at control's internal events endpoint. */
  kind: text('kind').notNull().default('nexus'),
  webhookUrl: text('webhook_url'),
  deliveryFormat: text('delivery_format').notNull(),
  state: text('state').notNull().default('active'),
  endpointRevision: integer('endpoint_revision').notNull().default(0),
  /** Set when the endpoint answered 410 Gone: deliveries are held until control raises the endpoint revision. */
  disabledAt: timestamp('disabled_at', { withTimezone: true, mode: 'date' }),
  disabledReason: text('disabled_reason'),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull(),
});

/** Each channel (WhatsApp phone number id, page id, Instagram account id) belongs to one instance. */
export const channelRoutes = pgTable(
  'channel_routes',
  {
    platform: text('platform').notNull(),
    channelId: text('channel_id').notNull(),
    instanceId: text('instance_id')
      .notNull()
      .references(() => instanceRoutes.instanceId, { onDelete: 'cascade' }),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.platform, t.channelId] })],
);
