import { Type, type Static } from 'typebox';

/**
 * What the engine reports to control: alerts, usage counters and delivery statistics. The engine
 * writes each report to an outbox in its own database and sends it to control in batches at
 * `POST /internal/v1/reports` until control accepts it; control stores each report id once, so a
 * replayed batch (an engine killed between control's answer and its own record) changes nothing.
 */
export const REPORTS_PATH = '/internal/v1/reports';
export const MAX_REPORTS_PER_BATCH = 500;

/** Alert types known today; a newer engine may send others, which control keeps as they come. */
export const ALERT_TYPES = [
  'breaker-open',
  'endpoint-disabled',
  'reauthorize-channel',
  'spam-rate-limited',
  'quota-crossed',
  'control-unreachable',
  'engine-unreachable',
  'instance-unreachable',
  'restart-loop',
] as const;
export type KnownAlertType = (typeof ALERT_TYPES)[number];

export const AlertSeverity = Type.Union([Type.Literal('critical'), Type.Literal('warning'), Type.Literal('info')]);
export type AlertSeverity = Static<typeof AlertSeverity>;

const Id = Type.String({ format: 'uuid', description: 'UUIDv7, unique per report: the idempotency key' });
const OccurredAt = Type.String({ format: 'date-time' });
const Channel = Type.String({
  minLength: 1,
  maxLength: 200,
  description: '`<platform>:<channel id>`, e.g. `whatsapp:1234567890`',
});
const Tenant = Type.String({ minLength: 1, maxLength: 64 });
const Instance = Type.String({ minLength: 1, maxLength: 64 });

/**
 * An alert raised or resolved. `key` names the condition (`breaker:ins_1`): while an alert with
 * that key is open, a new `raised` report counts as a repeat of it; `resolved` closes it.
 */
export const AlertReport = Type.Object(
  {
    id: Id,
    occurredAt: OccurredAt,
    kind: Type.Literal('alert'),
    key: Type.String({ minLength: 1, maxLength: 200 }),
    state: Type.Union([Type.Literal('raised'), Type.Literal('resolved')]),
    type: Type.String({ pattern: '^[a-z][a-z0-9-]*$', maxLength: 64, description: `one of ${ALERT_TYPES.join(', ')}` }),
    severity: AlertSeverity,
    tenantId: Type.Optional(Tenant),
    instanceId: Type.Optional(Instance),
    channel: Type.Optional(Channel),
    message: Type.String({ maxLength: 2000 }),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    notified: Type.Optional(
      Type.Boolean({
        description: 'the engine told the operators itself (control unreachable): control does not again',
      }),
    ),
  },
  { additionalProperties: false },
);
export type AlertReport = Static<typeof AlertReport>;

export const USAGE_METRICS = ['events.received', 'events.delivered', 'messages.sent'] as const;

/**
 * A usage counter's value for one UTC day so far: absolute, not an increment, so a replayed or
 * repeated report sets the same value again. Control keeps, per key, the value of the report with
 * the latest `occurredAt`.
 */
export const UsageReport = Type.Object(
  {
    id: Id,
    occurredAt: OccurredAt,
    kind: Type.Literal('usage'),
    period: Type.String({ format: 'date', description: 'the UTC day counted, YYYY-MM-DD' }),
    tenantId: Tenant,
    instanceId: Instance,
    channel: Type.Optional(Channel),
    metric: Type.String({ pattern: '^[a-z][a-z0-9.-]*$', maxLength: 64, description: USAGE_METRICS.join(', ') }),
    value: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type UsageReport = Static<typeof UsageReport>;

/** Deliveries to one instance in one interval [from, to); a repeated interval replaces the earlier one. */
export const DeliveryStatsReport = Type.Object(
  {
    id: Id,
    occurredAt: OccurredAt,
    kind: Type.Literal('delivery-stats'),
    instanceId: Instance,
    tenantId: Type.Optional(Tenant),
    from: Type.String({ format: 'date-time' }),
    to: Type.String({ format: 'date-time' }),
    delivered: Type.Integer({ minimum: 0 }),
    failed: Type.Integer({ minimum: 0, description: 'failed attempts (each retry counts)' }),
    retried: Type.Integer({ minimum: 0, description: 'attempts after the first' }),
    deadLettered: Type.Integer({ minimum: 0 }),
    latencyMs: Type.Object({
      p50: Type.Union([Type.Number(), Type.Null()]),
      p95: Type.Union([Type.Number(), Type.Null()]),
      p99: Type.Union([Type.Number(), Type.Null()]),
    }),
  },
  { additionalProperties: false },
);
export type DeliveryStatsReport = Static<typeof DeliveryStatsReport>;

export const EngineReport = Type.Union([AlertReport, UsageReport, DeliveryStatsReport]);
export type EngineReport = Static<typeof EngineReport>;

/**
 * A batch of reports. Items are checked one by one: a report control cannot read is rejected on its
 * own, with a reason, and never blocks the rest of the outbox.
 */
export const ReportBatch = Type.Object(
  {
    reports: Type.Array(Type.Object({ id: Type.String() }, { additionalProperties: true }), {
      maxItems: MAX_REPORTS_PER_BATCH,
    }),
  },
  { additionalProperties: false },
);
export type ReportBatch = { reports: EngineReport[] };

export const ReportBatchResult = Type.Object({
  accepted: Type.Array(Type.String(), { description: 'ids stored now or before' }),
  rejected: Type.Array(Type.Object({ id: Type.String(), reason: Type.String() })),
});
export type ReportBatchResult = Static<typeof ReportBatchResult>;

/** The engine's key metrics now, which control samples into its history. */
export const EngineStats = Type.Object({
  at: Type.String({ format: 'date-time' }),
  windowSeconds: Type.Integer({ description: 'the window of the latency and error figures' }),
  queues: Type.Record(
    Type.String(),
    Type.Object({ queued: Type.Integer(), active: Type.Integer(), failed: Type.Integer() }),
  ),
  deliveries: Type.Object({
    pending: Type.Integer(),
    due: Type.Integer({ description: 'pending and due now: waiting for a worker' }),
    dead: Type.Integer(),
    deliveredInWindow: Type.Integer(),
    failedInWindow: Type.Integer({ description: 'failed attempts in the window' }),
  }),
  latencyMs: Type.Object({
    p50: Type.Union([Type.Number(), Type.Null()]),
    p99: Type.Union([Type.Number(), Type.Null()]),
  }),
  breakers: Type.Object({ closed: Type.Integer(), open: Type.Integer(), halfOpen: Type.Integer() }),
  outbox: Type.Object({ unsent: Type.Integer(), oldestUnsentAt: Type.Union([Type.String(), Type.Null()]) }),
});
export type EngineStats = Static<typeof EngineStats>;
export const ENGINE_STATS_PATH = '/internal/v1/stats';

/** The operator's view of alerts, usage and metric history (control). */
export const AlertState = Type.Union([Type.Literal('open'), Type.Literal('acknowledged'), Type.Literal('resolved')]);
export type AlertState = Static<typeof AlertState>;

export const Alert = Type.Object({
  id: Type.String(),
  key: Type.String(),
  source: Type.Union([Type.Literal('engine'), Type.Literal('control')]),
  type: Type.String(),
  severity: AlertSeverity,
  state: AlertState,
  tenantId: Type.Union([Type.String(), Type.Null()]),
  instanceId: Type.Union([Type.String(), Type.Null()]),
  message: Type.String(),
  details: Type.Unknown(),
  firstAt: Type.String({ format: 'date-time' }),
  lastAt: Type.String({ format: 'date-time' }),
  count: Type.Integer(),
  acknowledgedBy: Type.Union([Type.String(), Type.Null()]),
  acknowledgedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  resolvedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
export type Alert = Static<typeof Alert>;

export const AlertQuery = Type.Object({
  state: Type.Optional(
    Type.Union([AlertState, Type.Literal('active')], { description: 'active: open or acknowledged' }),
  ),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
});
export const AlertParams = Type.Object({ id: Type.String({ format: 'uuid' }) });

export const UsageQuery = Type.Object({
  period: Type.Optional(
    Type.String({ pattern: '^\\d{4}-\\d{2}(-\\d{2})?$', description: 'a day (YYYY-MM-DD) or a month (YYYY-MM)' }),
  ),
  tenantId: Type.Optional(Type.String()),
});
export const UsageCounter = Type.Object({
  period: Type.String({ format: 'date' }),
  tenantId: Type.String(),
  instanceId: Type.String(),
  channel: Type.Union([Type.String(), Type.Null()]),
  metric: Type.String(),
  value: Type.Integer(),
  asOf: Type.String({ format: 'date-time' }),
});
export type UsageCounter = Static<typeof UsageCounter>;

export const SeriesQuery = Type.Object({
  metric: Type.String({ minLength: 1, maxLength: 100 }),
  since: Type.Optional(Type.String({ format: 'date-time' })),
  until: Type.Optional(Type.String({ format: 'date-time' })),
  labels: Type.Optional(Type.String({ description: 'only the series with these labels, e.g. queue=delivery.drain' })),
});
export const Series = Type.Object({
  metric: Type.String(),
  series: Type.Array(
    Type.Object({
      labels: Type.String(),
      points: Type.Array(Type.Tuple([Type.String({ format: 'date-time' }), Type.Number()])),
    }),
  ),
});
export type Series = Static<typeof Series>;
