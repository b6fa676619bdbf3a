import { boolean, index, integer, jsonb, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';
import type { TenantAdminContact, TenantLimits, TenantModules } from '@mic/contracts';

const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** A customer company. The hub itself is tenant `ten_hub`. */
export const tenants = pgTable('tenants', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  status: text('status').notNull(),
  modules: jsonb('modules').$type<TenantModules>().notNull(),
  limits: jsonb('limits').$type<TenantLimits>().notNull(),
  adminContact: jsonb('admin_contact').$type<TenantAdminContact | null>(),
  createdAt: at('created_at').notNull(),
  updatedAt: at('updated_at').notNull(),
});

/** A tenant's Nexus instance: where its events go and how control commands it. */
export const instances = pgTable('instances', {
  id: text('id').primaryKey(),
  tenantId: text('tenant_id')
    .notNull()
    .references(() => tenants.id),
  name: text('name').notNull(),
  kind: text('kind').notNull(),
  webhookUrl: text('webhook_url'),
  controlUrl: text('control_url'),
  deliveryFormat: text('delivery_format').notNull(),
  state: text('state').notNull(),
  stateReason: text('state_reason'),
  stateChangedAt: at('state_changed_at').notNull(),
  /** Paused by its tenant's pause (dunning): the tenant's resume brings it back, an operator's own pause stays. */
  pausedWithTenant: boolean('paused_with_tenant').notNull().default(false),
  version: text('version'),
  /** Raised when the operator sets the endpoint again: the engine re-enables one disabled by a 410. */
  endpointRevision: integer('endpoint_revision').notNull(),
  createdAt: at('created_at').notNull(),
  updatedAt: at('updated_at').notNull(),
});

/** A Meta channel, owned by exactly one instance (the primary key makes a channel id unique). */
export const channels = pgTable(
  'channels',
  {
    platform: text('platform').notNull(),
    channelId: text('channel_id').notNull(),
    instanceId: text('instance_id')
      .notNull()
      .references(() => instances.id),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id),
    name: text('name'),
    wabaId: text('waba_id'),
    businessId: text('business_id'),
    pageId: text('page_id'),
    metaApp: text('meta_app').notNull(),
    connectionState: text('connection_state').notNull(),
    connectionError: text('connection_error'),
    connectionCheckedAt: at('connection_checked_at'),
    createdAt: at('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.platform, t.channelId] }), index('channels_instance_idx').on(t.instanceId)],
);
