import fp from 'fastify-plugin';
import { Counter, Histogram } from 'prom-client';
import type { HttpServer } from '@mic/platform';
import { EndpointBreakers, type BreakerPolicy } from './breaker.ts';
import { DatabaseLeases, ProcessLeases } from './leases.ts';
import { registerDeliveryRoutes } from './routes.ts';
import { DRAIN_QUEUE, Deliveries } from './service.ts';

export { Deliveries, DRAIN_QUEUE, type DeliveryAlert, type RoutedEvent } from './service.ts';
export { DEFAULT_RETRY_SCHEDULE, parseSchedule } from './schedule.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Deliveries of stored events to their instances. */
    deliveries: Deliveries;
  }
}

/** Drain jobs one worker fetches at once. */
const JOBS_PER_FETCH = 5;

export interface DeliveryModuleOptions {
  schedule: readonly number[];
  timeoutMs: number;
  breaker: BreakerPolicy;
  /** Conversations one worker process drains at once. */
  concurrency: number;
  /** A drain's claim on its conversation, and the job heartbeat that notices a dead worker. */
  leaseMs: number;
  userAgent: string;
  /** Control's internal events endpoint, where the hub instance's events go. */
  hubEventsUrl: string;
}

export default fp(
  async (app: HttpServer, options: DeliveryModuleOptions) => {
    const attempts = new Counter({
      name: 'delivery_attempts_total',
      help: 'Delivery attempts by outcome',
      labelNames: ['outcome'],
      registers: [app.metricsRegistry],
    });
    const latency = new Histogram({
      name: 'delivery_latency_seconds',
      help: 'From webhook receipt to successful delivery',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
      registers: [app.metricsRegistry],
    });
    const breakers = new EndpointBreakers(app.db.orm, app.clock, options.breaker, (kind, instanceId, detail) =>
      deliveries.alert(kind, instanceId, detail),
    );
    const deliveries: Deliveries = new Deliveries({
      db: app.db.orm,
      queue: app.queue,
      clock: app.clock,
      routing: app.routingTable,
      credentials: app.credentials,
      breakers,
      leases: app.db.kind === 'pglite' ? new ProcessLeases() : new DatabaseLeases(app.db.orm, options.leaseMs),
      logger: app.log as never,
      options: {
        schedule: options.schedule,
        timeoutMs: options.timeoutMs,
        drainBatch: 100,
        userAgent: options.userAgent,
      },
      holdReason: (instanceId, platform) => app.holdReason(instanceId, platform),
      hub: { url: options.hubEventsUrl, token: app.peerToken },
      observe: (outcome, receivedAt) => {
        attempts.inc({ outcome: outcome.outcome });
        if (outcome.outcome === 'delivered') latency.observe((Date.now() - receivedAt.getTime()) / 1000);
      },
    });
    app.decorate('deliveries', deliveries);
    app.configSync.onReleased(async (instanceIds) => {
      for (const instanceId of instanceIds) await deliveries.kick(instanceId);
    });
    // A worker that dies mid-drain stops heart-beating; pg-boss retries its job once the heartbeat
    // is overdue (10 s at least), after the dead drain's claim on the conversation has expired.
    await app.queue.define(DRAIN_QUEUE, {
      retryLimit: 20,
      retryDelay: 1,
      retryBackoff: true,
      heartbeatSeconds: Math.max(10, Math.ceil(options.leaseMs / 1000) + 5),
      deleteAfterSeconds: 3_600,
    });
    if (app.runsWorkers) {
      // Several jobs per fetch (one statement to fetch them, one to complete them), each settled
      // on its own: a drain that throws is retried without its neighbours.
      await app.queue.work<{ instanceId: string; conversation: string }>(
        DRAIN_QUEUE,
        {
          batchSize: JOBS_PER_FETCH,
          localConcurrency: options.concurrency,
          perJobResults: true,
        },
        async (jobs) => {
          const settled = await deliveries.drainAll(jobs.map((job) => job.data));
          return jobs.map((job, i) => {
            const result = settled[i]!;
            return result.status === 'fulfilled'
              ? { id: job.id, status: 'completed' as const }
              : {
                  id: job.id,
                  status: 'failed' as const,
                  output: { message: String((result.reason as Error)?.message ?? result.reason) },
                };
          });
        },
      );
    }
    registerDeliveryRoutes(app);
  },
  { name: 'delivery', dependencies: ['credentials', 'routing', 'config-sync'] },
);
