import { sql } from 'drizzle-orm';
import type { Db } from '@mic/platform';
import type { DeliveryStatsReport, UsageReport } from '@mic/contracts';
import { deliveries, deliveryAttempts, endpointBreakers } from '../delivery/schema.ts';
import { inboundEvents } from '../ingress/schema.ts';
import { outboundMessages } from '../messages/schema.ts';
import { reportOutbox } from './schema.ts';

/**
 * Figures for control, counted from the delivery and ingress tables (read only) on a timer rather
 * than on the hot path: the tables are the record, so a count is never lost or counted twice.
 */

type Counts = Omit<DeliveryStatsReport, 'id' | 'occurredAt' | 'kind'>;
export type UsageFigure = Omit<UsageReport, 'id' | 'occurredAt' | 'kind'>;

const num = (v: unknown): number => Number(v ?? 0);
const ms = (v: unknown): number | null => (v === null || v === undefined ? null : Math.round(Number(v) * 100) / 100);
const latencyMs = sql`extract(epoch from (${deliveries.deliveredAt} - ${deliveries.createdAt})) * 1000`;

export class EngineFigures {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  /** Deliveries per instance in [from, to), for instances that had any activity. */
  async deliveryStats(from: Date, to: Date): Promise<Counts[]> {
    const attempts = await this.#db.execute<
      { instance_id: string; tenant_id: string | null } & Record<string, unknown>
    >(sql`
      select d.instance_id, max(d.payload->>'tenantId') as tenant_id,
        count(*) filter (where a.outcome = 'delivered')::int as delivered,
        count(*) filter (where a.outcome <> 'delivered')::int as failed,
        count(*) filter (where a.attempt > 1)::int as retried
      from ${deliveryAttempts} a join ${deliveries} d on d.id = a.delivery_id
      where a.at >= ${from} and a.at < ${to}
      group by d.instance_id`);
    const finished = await this.#db.execute<
      { instance_id: string; tenant_id: string | null } & Record<string, unknown>
    >(sql`
      select instance_id, max(payload->>'tenantId') as tenant_id,
        count(*) filter (where dead_at >= ${from} and dead_at < ${to})::int as dead,
        percentile_cont(0.5) within group (order by ${latencyMs}) filter (where delivered_at >= ${from} and delivered_at < ${to}) as p50,
        percentile_cont(0.95) within group (order by ${latencyMs}) filter (where delivered_at >= ${from} and delivered_at < ${to}) as p95,
        percentile_cont(0.99) within group (order by ${latencyMs}) filter (where delivered_at >= ${from} and delivered_at < ${to}) as p99
      from ${deliveries}
      where (delivered_at >= ${from} and delivered_at < ${to}) or (dead_at >= ${from} and dead_at < ${to})
      group by instance_id`);
    const byInstance = new Map<string, Counts>();
    const entry = (instanceId: string, tenantId: string | null): Counts => {
      let counts = byInstance.get(instanceId);
      if (!counts) {
        counts = {
          instanceId,
          from: from.toISOString(),
          to: to.toISOString(),
          delivered: 0,
          failed: 0,
          retried: 0,
          deadLettered: 0,
          latencyMs: { p50: null, p95: null, p99: null },
        };
        byInstance.set(instanceId, counts);
      }
      if (tenantId) counts.tenantId = tenantId;
      return counts;
    };
    for (const row of attempts.rows) {
      const counts = entry(row.instance_id, row.tenant_id);
      counts.delivered = num(row.delivered);
      counts.failed = num(row.failed);
      counts.retried = num(row.retried);
    }
    for (const row of finished.rows) {
      const counts = entry(row.instance_id, row.tenant_id);
      counts.deadLettered = num(row.dead);
      counts.latencyMs = { p50: ms(row.p50), p95: ms(row.p95), p99: ms(row.p99) };
    }
    return [...byInstance.values()];
  }

  /**
   * Usage per UTC day since `since`: events received per channel (once routed to an instance) and
   * events delivered per instance. Absolute values for each day, so sending them again is harmless.
   */
  async usage(since: Date): Promise<UsageFigure[]> {
    const received = await this.#db.execute<Record<string, string>>(sql`
      select to_char(received_at at time zone 'UTC', 'YYYY-MM-DD') as period, tenant_id, instance_id,
        platform || ':' || coalesce(channel_id, '') as channel, count(*)::int as value
      from ${inboundEvents}
      where received_at >= ${since} and instance_id is not null and tenant_id is not null
      group by 1, 2, 3, 4`);
    const delivered = await this.#db.execute<Record<string, string>>(sql`
      select to_char(delivered_at at time zone 'UTC', 'YYYY-MM-DD') as period, payload->>'tenantId' as tenant_id,
        instance_id, count(*)::int as value
      from ${deliveries}
      where delivered_at >= ${since} and state = 'delivered'
      group by 1, 2, 3`);
    // Messages Meta accepted, by the day the instance sent them (what the tenant's quota counts).
    const sent = await this.#db.execute<Record<string, string>>(sql`
      select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD') as period, tenant_id, instance_id, channel,
        count(*)::int as value
      from ${outboundMessages}
      where created_at >= ${since} and state in ('sent', 'delivered', 'read')
      group by 1, 2, 3, 4`);
    return [
      ...received.rows.map((r) => ({
        period: r.period!,
        tenantId: r.tenant_id!,
        instanceId: r.instance_id!,
        channel: r.channel!,
        metric: 'events.received',
        value: num(r.value),
      })),
      ...delivered.rows
        .filter((r) => r.tenant_id)
        .map((r) => ({
          period: r.period!,
          tenantId: r.tenant_id!,
          instanceId: r.instance_id!,
          metric: 'events.delivered',
          value: num(r.value),
        })),
      ...sent.rows.map((r) => ({
        period: r.period!,
        tenantId: r.tenant_id!,
        instanceId: r.instance_id!,
        channel: r.channel!,
        metric: 'messages.sent',
        value: num(r.value),
      })),
    ];
  }

  /** The key figures right now, latency and errors over the last `windowMs`. */
  async current(now: Date, windowMs: number) {
    const since = new Date(now.getTime() - windowMs);
    const [d] = (
      await this.#db.execute<Record<string, unknown>>(sql`
      select count(*) filter (where state = 'pending')::int as pending,
        count(*) filter (where state = 'pending' and next_attempt_at <= ${now})::int as due,
        count(*) filter (where state = 'dead')::int as dead
      from ${deliveries} where state <> 'delivered'`)
    ).rows;
    const [w] = (
      await this.#db.execute<Record<string, unknown>>(sql`
      select count(*)::int as delivered,
        percentile_cont(0.5) within group (order by ${latencyMs}) as p50,
        percentile_cont(0.99) within group (order by ${latencyMs}) as p99
      from ${deliveries} where delivered_at >= ${since}`)
    ).rows;
    const [f] = (
      await this.#db.execute<Record<string, unknown>>(sql`
      select count(*)::int as failed from ${deliveryAttempts} where at >= ${since} and outcome <> 'delivered'`)
    ).rows;
    const breakers = await this.#db.execute<{ state: string; n: number }>(
      sql`select state, count(*)::int as n from ${endpointBreakers} group by state`,
    );
    const [o] = (
      await this.#db.execute<{ unsent: number; oldest: string | Date | null }>(
        sql`select count(*)::int as unsent, min(created_at) as oldest from ${reportOutbox} where sent_at is null`,
      )
    ).rows;
    const breakerCount = (state: string) => num(breakers.rows.find((r) => r.state === state)?.n);
    return {
      deliveries: {
        pending: num(d?.pending),
        due: num(d?.due),
        dead: num(d?.dead),
        deliveredInWindow: num(w?.delivered),
        failedInWindow: num(f?.failed),
      },
      latencyMs: { p50: ms(w?.p50), p99: ms(w?.p99) },
      breakers: { closed: breakerCount('closed'), open: breakerCount('open'), halfOpen: breakerCount('half_open') },
      outbox: { unsent: num(o?.unsent), oldestUnsentAt: o?.oldest ? new Date(o.oldest).toISOString() : null },
    };
  }
}
