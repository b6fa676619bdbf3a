import { and, eq, gte, lt, sql } from 'drizzle-orm';
import type { Clock, Db, InternalClient, Logger } from '@mic/platform';
import { ENGINE_STATS_PATH, type EngineStats, type Series } from '@mic/contracts';
import { metricSamples } from './schema.ts';

export interface Sample {
  metric: string;
  labels?: Record<string, string>;
  value: number;
  at: Date;
}

export interface MonitoringOptions {
  sampleIntervalMs: number;
  retentionMs: number;
  /** Most points a series answer holds; longer ranges are averaged into buckets. */
  maxPoints: number;
}

/** `a=1,b=2`: labels as one sortable, comparable text. */
export function labelsText(labels: Record<string, string> = {}): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
}

/** The engine's stats as samples: one per figure (and per queue). */
export function statsSamples(stats: EngineStats, at: Date): Sample[] {
  const samples: Sample[] = [];
  const add = (metric: string, value: number | null, labels?: Record<string, string>) => {
    if (value !== null) samples.push({ metric, value, at, ...(labels ? { labels } : {}) });
  };
  for (const [queue, depth] of Object.entries(stats.queues)) {
    add('queue.queued', depth.queued, { queue });
    add('queue.active', depth.active, { queue });
    add('queue.failed', depth.failed, { queue });
  }
  add('deliveries.pending', stats.deliveries.pending);
  add('deliveries.due', stats.deliveries.due);
  add('deliveries.dead', stats.deliveries.dead);
  add('deliveries.delivered', stats.deliveries.deliveredInWindow);
  add('deliveries.errors', stats.deliveries.failedInWindow);
  add('delivery.latency.p50', stats.latencyMs.p50);
  add('delivery.latency.p99', stats.latencyMs.p99);
  add('breakers.open', stats.breakers.open);
  add('breakers.half_open', stats.breakers.halfOpen);
  add('reports.unsent', stats.outbox.unsent);
  return samples;
}

/**
 * Control's history of the engine's key metrics: it samples the engine's stats on a timer (a
 * sample the engine does not answer is a gap, not an error) and keeps the delivery stats the
 * engine reports; old samples are dropped after the retention.
 */
export class Monitoring {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #engine: InternalClient;
  readonly #logger: Logger;
  readonly #options: MonitoringOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;

  constructor(deps: { db: Db; clock: Clock; engine: InternalClient; logger: Logger; options: MonitoringOptions }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#engine = deps.engine;
    this.#logger = deps.logger;
    this.#options = deps.options;
  }

  async record(samples: readonly Sample[], tx?: Db): Promise<void> {
    if (samples.length === 0) return;
    const rows = samples.map((s) => ({ at: s.at, metric: s.metric, labels: labelsText(s.labels), value: s.value }));
    for (let i = 0; i < rows.length; i += 500)
      await (tx ?? this.#db).insert(metricSamples).values(rows.slice(i, i + 500));
  }

  /** Takes one sample of the engine's stats; false when the engine did not answer (a gap). */
  async sample(): Promise<boolean> {
    let stats: EngineStats;
    try {
      stats = await this.#engine.request<EngineStats>('GET', ENGINE_STATS_PATH);
    } catch (error) {
      this.#logger.debug({ err: error }, 'no engine stats this time');
      return false;
    }
    await this.record(statsSamples(stats, this.#clock.now()));
    return true;
  }

  async dropOld(): Promise<void> {
    const before = new Date(this.#clock.now().getTime() - this.#options.retentionMs);
    await this.#db.delete(metricSamples).where(lt(metricSamples.at, before));
  }

  start(): void {
    this.#timer = setInterval(() => {
      if (this.#running) return;
      this.#running = this.sample()
        .then(() => this.dropOld())
        .catch((error: unknown) => this.#logger.warn({ err: error }, 'metrics sample failed'))
        .finally(() => (this.#running = undefined));
    }, this.#options.sampleIntervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }

  /** A metric's series in [since, until), each averaged into at most `maxPoints` buckets. */
  async series(query: { metric: string; since?: Date; until?: Date; labels?: string }): Promise<Series> {
    const until = query.until ?? this.#clock.now();
    const since = query.since ?? new Date(until.getTime() - 86_400_000);
    const bucketMs = Math.max(1, Math.ceil((until.getTime() - since.getTime()) / this.#options.maxPoints));
    // Inlined, not a parameter: select, group by and order by must read the same expression.
    const bucket = sql<number>`floor(extract(epoch from ${metricSamples.at}) * 1000 / ${sql.raw(String(bucketMs))})`;
    const rows = await this.#db
      .select({
        labels: metricSamples.labels,
        bucket: sql<string>`${bucket}::bigint`,
        value: sql<number>`avg(${metricSamples.value})::float8`,
      })
      .from(metricSamples)
      .where(
        and(
          eq(metricSamples.metric, query.metric),
          gte(metricSamples.at, since),
          lt(metricSamples.at, until),
          query.labels === undefined ? undefined : eq(metricSamples.labels, query.labels),
        ),
      )
      .groupBy(metricSamples.labels, sql`${bucket}`)
      .orderBy(metricSamples.labels, sql`${bucket}`);
    const series = new Map<string, [string, number][]>();
    for (const row of rows) {
      const points = series.get(row.labels) ?? [];
      points.push([new Date(Number(row.bucket) * bucketMs).toISOString(), Number(row.value)]);
      series.set(row.labels, points);
    }
    return { metric: query.metric, series: [...series].map(([labels, points]) => ({ labels, points })) };
  }
}
