import fp from 'fastify-plugin';
import { Counter } from 'prom-client';
import { GraphClient } from '@mic/meta';
import { tenantModuleFlag, type HttpServer } from '@mic/platform';
import { PublishingGraph } from './graph.ts';
import { registerPostRoutes } from './routes.ts';
import { PUBLISH_QUEUE, Posts, type PostsOptions, type PublishJob } from './service.ts';

export { Posts, PUBLISH_QUEUE, channelPlatformOf, type PostsOptions } from './service.ts';

/** pg-boss's tries of a run that fails on something other than Meta, hours apart at the end. */
const PUBLISH_RETRY_LIMIT = 20;

declare module 'fastify' {
  interface FastifyInstance {
    /** Publishing: Facebook Page and Instagram posts instances make, and their workers. */
    posts: Posts;
  }
}

export interface PostsModuleOptions extends Omit<PostsOptions, 'leaseMs'> {
  graph: { baseUrl: string; version: string; timeoutMs: number; userAgent: string };
  /** Posts one worker process publishes at once. */
  concurrency: number;
}

/** `POST|GET /v1/posts`, `GET|DELETE /v1/posts/:id`; on worker processes, the publishing jobs. */
export default fp(
  async (app: HttpServer, options: PostsModuleOptions) => {
    const { graph, concurrency, ...postOptions } = options;
    const states = new Counter({
      name: 'posts_state_changes_total',
      help: 'Posts reaching each state, by platform (facebook, instagram)',
      labelNames: ['platform', 'state'],
      registers: [app.metricsRegistry],
    });
    const graphErrors = new Counter({
      name: 'post_graph_errors_total',
      help: "Meta's errors on publishing steps, by platform, step and Graph error code (none: no answer)",
      labelNames: ['platform', 'step', 'code'],
      registers: [app.metricsRegistry],
    });
    const posts = new Posts({
      db: app.db.orm,
      queue: app.queue,
      clock: app.clock,
      graph: new PublishingGraph(new GraphClient(graph)),
      logger: app.log.child({ module: 'posts' }),
      snapshot: () => app.configSync.snapshot,
      accessToken: (platform, channelId) => app.channelConnections.accessToken(platform, channelId),
      holdReason: (instanceId, platform) => app.holdReason(instanceId, platform),
      isPublishingEnabled: (tenantId) => app.flags.isEnabled(tenantModuleFlag('publishing'), tenantId),
      deliver: (tx, events) => app.deliveries.createFor(tx, events),
      alert: (alert) => app.reports.alert(alert),
      observe: {
        state: (platform, state) => states.inc({ platform, state }),
        graphError: (platform, step, code) => graphErrors.inc({ platform, step, code: code === null ? 'none' : code }),
      },
      // Longer than any one Graph call, which the lease is renewed before.
      options: { ...postOptions, leaseMs: Math.max(30_000, graph.timeoutMs * 3) },
    });
    app.decorate('posts', posts);
    // Each job is one run of a post; the service schedules its own retries and polls as new jobs.
    // pg-boss's retries cover a crash: a worker that dies stops heart-beating and the job runs again,
    // resuming from the ids recorded so far.
    await app.queue.define(PUBLISH_QUEUE, {
      retryLimit: PUBLISH_RETRY_LIMIT,
      retryDelay: 5,
      retryBackoff: true,
      heartbeatSeconds: 10,
      deleteAfterSeconds: 86_400,
    });
    if (app.runsWorkers) {
      await app.queue.work<PublishJob>(
        PUBLISH_QUEUE,
        { batchSize: 1, localConcurrency: concurrency },
        async ([job]) => {
          try {
            await posts.run(job!.data);
          } catch (error) {
            if (job!.retryCount >= PUBLISH_RETRY_LIMIT) await posts.giveUp(job!.data, job!.retryCount + 1, error);
            throw error;
          }
        },
      );
    }
    registerPostRoutes(app, posts);
  },
  { name: 'posts', dependencies: ['channels', 'config-sync', 'credentials', 'delivery', 'reports'] },
);
