import {
  bigint,
  doublePrecision,
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
 * One row per alert key (`breaker:ins_1`): a repeat while it is open counts up, a raise after it
 * was resolved re-opens it. `notified_state` is what the operators were last told.
 */
export const alerts = pgTable(
  'alerts',
  {
    id: uuid('id').primaryKey(),
    key: text('key').notNull(),
    source: text('source').notNull(),
    type: text('type').notNull(),
    severity: text('severity').notNull(),
    state: text('state').notNull(),
    tenantId: text('tenant_id'),
    instanceId: text('instance_id'),
    message: text('message').notNull(),
    details: jsonb('details').notNull(),
    firstAt: timestamp('first_at', { withTimezone: true, mode: 'date' }).notNull(),
    lastAt: timestamp('last_at', { withTimezone: true, mode: 'date' }).notNull(),
    count: integer('count').notNull(),
    acknowledgedBy: text('acknowledged_by'),
    acknowledgedAt: timestamp('acknowledged_at', { withTimezone: true, mode: 'date' }),
    resolvedAt: timestamp('resolved_at', { withTimezone: true, mode: 'date' }),
    notifiedState: text('notified_state'),
    notifiedAt: timestamp('notified_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [uniqueIndex('alerts_key_idx').on(t.key), index('alerts_state_idx').on(t.state, t.lastAt)],
);

/** Ids of the engine reports stored, so a replayed report is accepted again and stored once. */
export const receivedReports = pgTable(
  'received_reports',
  {
    id: uuid('id').primaryKey(),
    kind: text('kind').notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [index('received_reports_at_idx').on(t.receivedAt)],
);

/** Usage per UTC day, as the engine last counted it (absolute values: the newest report wins). */
export const usageCounters = pgTable(
  'usage_counters',
  {
    period: text('period').notNull(),
    tenantId: text('tenant_id').notNull(),
    instanceId: text('instance_id').notNull(),
    /** `<platform>:<channel id>`, or '' for a per-instance counter. */
    channel: text('channel').notNull(),
    metric: text('metric').notNull(),
    value: bigint('value', { mode: 'number' }).notNull(),
    asOf: timestamp('as_of', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.period, t.tenantId, t.instanceId, t.channel, t.metric] }),
    index('usage_counters_tenant_idx').on(t.tenantId, t.period),
  ],
);

/** Deliveries per instance per interval, as the engine reported them. */
export const deliveryStats = pgTable(
  'delivery_stats',
  {
    instanceId: text('instance_id').notNull(),
    fromAt: timestamp('from_at', { withTimezone: true, mode: 'date' }).notNull(),
    toAt: timestamp('to_at', { withTimezone: true, mode: 'date' }).notNull(),
    tenantId: text('tenant_id'),
    delivered: integer('delivered').notNull(),
    failed: integer('failed').notNull(),
    retried: integer('retried').notNull(),
    deadLettered: integer('dead_lettered').notNull(),
    latencyP50: doublePrecision('latency_p50'),
    latencyP95: doublePrecision('latency_p95'),
    latencyP99: doublePrecision('latency_p99'),
  },
  (t) => [primaryKey({ columns: [t.instanceId, t.fromAt] }), index('delivery_stats_from_idx').on(t.fromAt)],
);
