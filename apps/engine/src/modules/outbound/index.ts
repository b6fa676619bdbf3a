import fp from 'fastify-plugin';
import { Counter } from 'prom-client';
import type { HttpServer, Logger } from '@mic/platform';
import { Lanes } from './service.ts';

export { Lanes, DEFAULT_CAP, WAKE_QUEUE, type LanesOptions, type SendHandler, type SendOutcome } from './service.ts';
export { laneOf, PRIORITIES, type ClaimedItem, type LaneItem, type Priority } from './store.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Per-channel lanes of outbound sends to Meta, rate-limited across replicas. */
    lanes: Lanes;
  }
}

export interface OutboundModuleOptions {
  /** Meta's per-second cap of a lane; the default cap when it gives nothing. */
  capFor?: (lane: string) => number | Promise<number>;
  share: number;
  horizonMs: number;
  leaseMs: number;
  pollIntervalMs: number;
  maxInFlightPerLane: number;
  /** How long a graceful stop waits for sends already started. */
  stopTimeoutMs: number;
}

/**
 * Decorates `app.lanes`. The worker is started by whoever owns the send handler (the messages
 * module, with `app.lanes.start(handler)` on ready, on worker processes); the lanes stop on close.
 */
export default fp(
  async (app: HttpServer, options: OutboundModuleOptions) => {
    const events = new Counter({
      name: 'outbound_lane_events_total',
      help: 'Outbound sends by lane outcome (sent, failed, retry, lane-paused, ...) and slots missed',
      labelNames: ['event'],
      registers: [app.metricsRegistry],
    });
    const lanes = new Lanes({
      db: app.db.orm,
      queue: app.queue,
      observe: (_lane, event) => events.inc({ event }),
      logger: app.log.child({ module: 'outbound' }) as Logger,
      ...(options.capFor ? { capFor: options.capFor } : {}),
      share: options.share,
      horizonMs: options.horizonMs,
      leaseMs: options.leaseMs,
      pollIntervalMs: options.pollIntervalMs,
      maxInFlightPerLane: options.maxInFlightPerLane,
    });
    await lanes.init();
    app.decorate('lanes', lanes);
    app.addHook('onClose', async () => lanes.stop(options.stopTimeoutMs));
  },
  { name: 'outbound' },
);
