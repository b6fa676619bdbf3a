import fp from 'fastify-plugin';
import { GraphClient } from '@mic/meta';
import type { HttpServer } from '@mic/platform';
import { registerConnectionRoutes } from './routes.ts';
import { ChannelConnections, SUBSCRIBE_QUEUE, type SubscribeJob } from './service.ts';

export { ChannelConnections, channelTokenRef, type ConnectionFailedListener, SUBSCRIBE_QUEUE } from './service.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Channels' connections to Meta: their tokens, and the Meta app's subscription to their webhooks. */
    channelConnections: ChannelConnections;
  }
}

export interface ChannelsModuleOptions {
  graph: { baseUrl: string; version: string; timeoutMs: number; userAgent: string };
  /** Delay before each background retry of a subscription Meta failed transiently. */
  retrySchedule: readonly number[];
}

export default fp(
  async (app: HttpServer, options: ChannelsModuleOptions) => {
    const connections = new ChannelConnections({
      db: app.db.orm,
      queue: app.queue,
      clock: app.clock,
      secrets: app.secrets,
      graph: new GraphClient(options.graph),
      logger: app.log.child({ module: 'channels' }),
      retrySchedule: options.retrySchedule,
    });
    app.decorate('channelConnections', connections);
    // The retries are scheduled by the service itself (each job is one step of the schedule);
    // pg-boss's own retries only cover a crash inside the handler.
    await app.queue.define(SUBSCRIBE_QUEUE, { retryLimit: 3, retryDelay: 5, retryBackoff: true });
    if (app.runsWorkers) {
      await app.queue.work<SubscribeJob>(SUBSCRIBE_QUEUE, { batchSize: 1 }, async ([job]) =>
        connections.retry(job!.data),
      );
    }
    registerConnectionRoutes(app);
  },
  { name: 'channels', dependencies: ['secrets'] },
);
