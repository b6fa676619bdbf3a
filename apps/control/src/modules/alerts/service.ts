import { and, desc, eq, inArray, like, lt, ne, sql } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import Value from 'typebox/value';
import type { Clock, Db, JobQueue, Logger, Notifier } from '@mic/platform';
import { Problem, problems } from '@mic/platform';
import {
  EngineReport,
  type AlertReport,
  type AlertSeverity,
  type AlertState,
  type DeliveryStatsReport,
  type ReportBatchResult,
  type UsageReport,
} from '@mic/contracts';
import type { Monitoring, Sample } from '../monitoring/index.ts';
import { alerts, deliveryStats, receivedReports, usageCounters } from './schema.ts';

export const NOTIFY_QUEUE = 'alerts.notify';

export type AlertRow = typeof alerts.$inferSelect;
export type UsageRow = typeof usageCounters.$inferSelect;

/** What another control module raises: `instance-unreachable:ins_1`, and the like. */
export interface RaiseAlert {
  /** Names the condition: raising it again while open counts a repeat; resolving it closes it. */
  key: string;
  type: string;
  severity: AlertSeverity;
  message: string;
  tenantId?: string | undefined;
  instanceId?: string | undefined;
  details?: Record<string, unknown> | undefined;
}

export interface AlertsOptions {
  /** A key's operators hear of it at most once per this interval; changes in between are coalesced. */
  notifyMinIntervalMs: number;
  /** How long received report ids (replay protection) and delivery stats are kept. */
  retentionMs: number;
}

type Source = 'engine' | 'control';

/**
 * The operators' alert list. Alerts come from control's own modules (`raise`, `resolve`) and from
 * the engine's reports; a new, re-opened or resolved alert notifies the operators through a job
 * enqueued in the same transaction, at most once per key per interval (a flapping alert is told
 * in its latest state, not once per flap).
 */
export class Alerts {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #queue: JobQueue;
  readonly #notifier: Notifier;
  readonly #monitoring: Monitoring;
  readonly #logger: Logger;
  readonly #options: AlertsOptions;
  readonly #tenantOf: (instanceId: string, tx: Db) => Promise<string | undefined>;

  constructor(deps: {
    /** The tenant of an instance, for engine alerts that name only the instance. */
    tenantOf?: (instanceId: string, tx: Db) => Promise<string | undefined>;
    db: Db;
    clock: Clock;
    queue: JobQueue;
    notifier: Notifier;
    monitoring: Monitoring;
    logger: Logger;
    options: AlertsOptions;
  }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#queue = deps.queue;
    this.#notifier = deps.notifier;
    this.#monitoring = deps.monitoring;
    this.#logger = deps.logger;
    this.#options = deps.options;
    this.#tenantOf = deps.tenantOf ?? (async () => undefined);
  }

  /** Raises (or repeats) an alert of control's own; in `tx` when given. */
  async raise(alert: RaiseAlert, tx?: Db): Promise<AlertRow> {
    const at = this.#clock.now();
    return tx
      ? this.#raise(tx, alert, 'control', at, true)
      : this.#db.transaction((t) => this.#raise(t, alert, 'control', at, true));
  }

  /** Resolves the open alert with this key, if any. */
  async resolve(key: string, tx?: Db): Promise<AlertRow | undefined> {
    const at = this.#clock.now();
    return tx ? this.#resolve(tx, key, at, true) : this.#db.transaction((t) => this.#resolve(t, key, at, true));
  }

  async #raise(tx: Db, alert: RaiseAlert, source: Source, at: Date, shouldNotify: boolean): Promise<AlertRow> {
    const fields = {
      source,
      type: alert.type,
      severity: alert.severity,
      message: alert.message,
      tenantId: alert.tenantId ?? null,
      instanceId: alert.instanceId ?? null,
      details: alert.details ?? {},
      lastAt: at,
    };
    const [inserted] = await tx
      .insert(alerts)
      .values({
        ...fields,
        id: uuidv7(),
        key: alert.key,
        state: 'open',
        firstAt: at,
        count: 1,
        notifiedState: shouldNotify ? null : 'raised',
      })
      .onConflictDoNothing({ target: alerts.key })
      .returning();
    if (inserted) {
      if (shouldNotify) await this.#queue.send(NOTIFY_QUEUE, { alertId: inserted.id }, {}, tx);
      return inserted;
    }
    const [existing] = await tx.select().from(alerts).where(eq(alerts.key, alert.key)).for('update');
    const isReopened = existing!.state === 'resolved';
    const [updated] = await tx
      .update(alerts)
      .set({
        ...fields,
        count: sql`${alerts.count} + 1`,
        ...(isReopened
          ? {
              state: 'open',
              acknowledgedBy: null,
              acknowledgedAt: null,
              resolvedAt: null,
              ...(shouldNotify ? {} : { notifiedState: 'raised' }),
            }
          : {}),
      })
      .where(eq(alerts.id, existing!.id))
      .returning();
    if (isReopened && shouldNotify) await this.#queue.send(NOTIFY_QUEUE, { alertId: updated!.id }, {}, tx);
    return updated!;
  }

  async #resolve(tx: Db, key: string, at: Date, shouldNotify: boolean): Promise<AlertRow | undefined> {
    const [resolved] = await tx
      .update(alerts)
      .set({ state: 'resolved', resolvedAt: at, lastAt: at, ...(shouldNotify ? {} : { notifiedState: 'resolved' }) })
      .where(and(eq(alerts.key, key), ne(alerts.state, 'resolved')))
      .returning();
    if (resolved && shouldNotify) await this.#queue.send(NOTIFY_QUEUE, { alertId: resolved.id }, {}, tx);
    return resolved;
  }

  async list(query: { state?: AlertState | 'active' | undefined; limit?: number | undefined }): Promise<AlertRow[]> {
    const state =
      query.state === 'active'
        ? inArray(alerts.state, ['open', 'acknowledged'])
        : query.state
          ? eq(alerts.state, query.state)
          : undefined;
    return this.#db
      .select()
      .from(alerts)
      .where(state)
      .orderBy(desc(alerts.lastAt), desc(alerts.id))
      .limit(query.limit ?? 100);
  }

  /** Marks an open alert as seen by an operator; it stays until resolved (a repeat does not re-open it). */
  async acknowledge(id: string, by: string): Promise<AlertRow> {
    const now = this.#clock.now();
    const [row] = await this.#db
      .update(alerts)
      .set({ state: 'acknowledged', acknowledgedBy: by, acknowledgedAt: now })
      .where(and(eq(alerts.id, id), eq(alerts.state, 'open')))
      .returning();
    if (row) return row;
    const [current] = await this.#db.select().from(alerts).where(eq(alerts.id, id));
    if (!current) throw problems.notFound(`no alert ${id}`);
    if (current.state === 'resolved') {
      throw new Problem({
        status: 409,
        type: 'alert-resolved',
        title: 'The alert is resolved already',
        detail: `alert ${id} was resolved at ${current.resolvedAt?.toISOString()}`,
      });
    }
    return current;
  }

  async usage(query: { period?: string | undefined; tenantId?: string | undefined }): Promise<UsageRow[]> {
    return this.#db
      .select()
      .from(usageCounters)
      .where(
        and(
          query.period ? like(usageCounters.period, `${query.period}%`) : undefined,
          query.tenantId ? eq(usageCounters.tenantId, query.tenantId) : undefined,
        ),
      )
      .orderBy(usageCounters.period, usageCounters.tenantId, usageCounters.instanceId, usageCounters.metric)
      .limit(10_000);
  }

  /**
   * Stores a batch of engine reports, each once: a known id is accepted again without effect. A
   * report that does not match the contract is rejected on its own; a database failure fails the
   * batch (the engine sends it again).
   */
  async ingest(items: readonly { id: string }[]): Promise<ReportBatchResult> {
    const result: ReportBatchResult = { accepted: [], rejected: [] };
    for (const item of items) {
      if (!Value.Check(EngineReport, item)) {
        const [first] = Value.Errors(EngineReport, item);
        const reason = first ? `${first.instancePath || '/'} ${first.message}` : 'not an engine report';
        result.rejected.push({ id: String(item.id), reason });
        continue;
      }
      await this.#db.transaction((tx) => this.#store(tx, item));
      result.accepted.push(item.id);
    }
    return result;
  }

  async #store(tx: Db, report: EngineReport): Promise<void> {
    const [isNew] = await tx
      .insert(receivedReports)
      .values({ id: report.id, kind: report.kind, receivedAt: this.#clock.now() })
      .onConflictDoNothing()
      .returning({ id: receivedReports.id });
    if (!isNew) return;
    switch (report.kind) {
      case 'alert':
        return this.#storeAlert(tx, report);
      case 'usage':
        return this.#storeUsage(tx, report);
      case 'delivery-stats':
        return this.#storeStats(tx, report);
    }
  }

  async #storeAlert(tx: Db, report: AlertReport): Promise<void> {
    const at = new Date(report.occurredAt);
    const shouldNotify = !report.notified;
    if (report.state === 'resolved') {
      await this.#resolve(tx, report.key, at, shouldNotify);
      return;
    }
    await this.#raise(
      tx,
      {
        key: report.key,
        type: report.type,
        severity: report.severity,
        message: report.message,
        tenantId: report.tenantId ?? (report.instanceId ? await this.#tenantOf(report.instanceId, tx) : undefined),
        instanceId: report.instanceId,
        details: { ...report.details, ...(report.channel ? { channel: report.channel } : {}) },
      },
      'engine',
      at,
      shouldNotify,
    );
  }

  async #storeUsage(tx: Db, report: UsageReport): Promise<void> {
    const row = {
      period: report.period,
      tenantId: report.tenantId,
      instanceId: report.instanceId,
      channel: report.channel ?? '',
      metric: report.metric,
      value: report.value,
      asOf: new Date(report.occurredAt),
    };
    await tx
      .insert(usageCounters)
      .values(row)
      .onConflictDoUpdate({
        target: [
          usageCounters.period,
          usageCounters.tenantId,
          usageCounters.instanceId,
          usageCounters.channel,
          usageCounters.metric,
        ],
        set: { value: row.value, asOf: row.asOf },
        // Reports can arrive out of order (a retried batch): the latest count wins.
        setWhere: sql`${usageCounters.asOf} <= ${row.asOf}`,
      });
  }

  async #storeStats(tx: Db, report: DeliveryStatsReport): Promise<void> {
    const row = {
      instanceId: report.instanceId,
      fromAt: new Date(report.from),
      toAt: new Date(report.to),
      tenantId: report.tenantId ?? null,
      delivered: report.delivered,
      failed: report.failed,
      retried: report.retried,
      deadLettered: report.deadLettered,
      latencyP50: report.latencyMs.p50,
      latencyP95: report.latencyMs.p95,
      latencyP99: report.latencyMs.p99,
    };
    const [isNew] = await tx
      .insert(deliveryStats)
      .values(row)
      .onConflictDoNothing()
      .returning({ instanceId: deliveryStats.instanceId });
    if (!isNew) {
      // The same interval again (another engine replica counted it): the later count stands.
      await tx
        .update(deliveryStats)
        .set(row)
        .where(and(eq(deliveryStats.instanceId, row.instanceId), eq(deliveryStats.fromAt, row.fromAt)));
      return;
    }
    const at = row.toAt;
    const labels = { instance: report.instanceId };
    const samples: Sample[] = [
      { metric: 'instance.delivered', value: row.delivered, labels, at },
      { metric: 'instance.failed', value: row.failed, labels, at },
      { metric: 'instance.retried', value: row.retried, labels, at },
      { metric: 'instance.dead_lettered', value: row.deadLettered, labels, at },
    ];
    for (const [name, value] of Object.entries(report.latencyMs)) {
      if (value !== null) samples.push({ metric: `instance.latency.${name}`, value, labels, at });
    }
    await this.#monitoring.record(samples, tx);
  }

  /**
   * The notification job: tells the operators the alert's current state, unless they know it
   * already (coalesced) or heard of this key less than the minimum interval ago (then later).
   */
  async notify(alertId: string): Promise<void> {
    const [row] = await this.#db.select().from(alerts).where(eq(alerts.id, alertId));
    if (!row) return;
    const told = row.state === 'resolved' ? 'resolved' : 'raised';
    if (row.notifiedState === told) return;
    const now = this.#clock.now();
    const nextAllowed = (row.notifiedAt?.getTime() ?? 0) + this.#options.notifyMinIntervalMs;
    if (nextAllowed > now.getTime()) {
      await this.#queue.send(NOTIFY_QUEUE, { alertId }, { startAfter: new Date(nextAllowed) });
      return;
    }
    // Claim the notice: of two jobs for one alert, only one sends it.
    const claimed = await this.#db
      .update(alerts)
      .set({ notifiedState: told, notifiedAt: now })
      .where(
        and(
          eq(alerts.id, alertId),
          sql`${alerts.notifiedState} is not distinct from ${row.notifiedState}`,
          sql`${alerts.notifiedAt} is not distinct from ${row.notifiedAt}`,
        ),
      )
      .returning({ id: alerts.id });
    if (claimed.length === 0) return;
    try {
      await this.#notifier.send(notice(row, told, now));
    } catch (error) {
      await this.#db
        .update(alerts)
        .set({ notifiedState: row.notifiedState, notifiedAt: row.notifiedAt })
        .where(eq(alerts.id, alertId));
      throw error; // the queue retries with backoff
    }
  }

  /** Drops received report ids and delivery stats older than the retention. */
  async dropOld(): Promise<void> {
    const before = new Date(this.#clock.now().getTime() - this.#options.retentionMs);
    await this.#db.delete(receivedReports).where(lt(receivedReports.receivedAt, before));
    await this.#db.delete(deliveryStats).where(lt(deliveryStats.toAt, before));
    this.#logger.debug({ before }, 'old report ids and delivery stats dropped');
  }
}

function notice(row: AlertRow, told: 'raised' | 'resolved', at: Date) {
  const repeats = row.count > 1 ? ` (${row.count} times since ${row.firstAt.toISOString()})` : '';
  return {
    title: told === 'resolved' ? `Resolved: ${row.message}` : row.message,
    text: `${told === 'resolved' ? 'Resolved' : 'Alert'} from the ${row.source}: ${row.message}${repeats}`,
    severity: row.severity as AlertSeverity,
    source: row.source as Source,
    state: told,
    key: row.key,
    type: row.type,
    at,
    fields: {
      type: row.type,
      tenant: row.tenantId,
      instance: row.instanceId,
      count: row.count,
      first: row.firstAt.toISOString(),
      last: row.lastAt.toISOString(),
    },
  };
}
