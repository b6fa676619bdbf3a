import fp from 'fastify-plugin';
import { Type } from 'typebox';
import { BroadcastParams, CreateHubBroadcastRequest, HubBroadcast } from '@mic/contracts';
import type { HttpServer } from '@mic/platform';
import { HUB_BROADCASTS_QUEUE, HubBroadcasts } from './service.ts';

export { HubBroadcasts, HUB_BROADCASTS_QUEUE } from './service.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Broadcasts on the hub's own WhatsApp numbers (tenant zero), through the engine. */
    hubBroadcasts: HubBroadcasts;
  }
}

export interface HubBroadcastsModuleOptions {
  /** Largest `POST /v1/hub/broadcasts` body, in bytes. */
  bodyLimit: number;
}

/**
 * `POST|GET /v1/hub/broadcasts`, `GET /v1/hub/broadcasts/:id`, `POST /v1/hub/broadcasts/:id/pause|resume|cancel`,
 * and the outbox job that hands broadcasts to the engine.
 */
export default fp(
  async (app: HttpServer, options: HubBroadcastsModuleOptions) => {
    const broadcasts = new HubBroadcasts({
      db: app.db.orm,
      clock: app.clock,
      queue: app.queue,
      resolveSegment: (id) => app.crm.resolveSegment(id),
      engine: (method, path, body) => app.engine.request(method, path, body),
    });
    app.decorate('hubBroadcasts', broadcasts);
    app.hub.onEvent((tx, event) => broadcasts.applyHubEvent(tx, event));
    // Retried with backoff for as long as control's outbox would: the engine may be down for days.
    await app.queue.define(HUB_BROADCASTS_QUEUE, {
      retryLimit: 100_000,
      retryDelay: 1,
      retryBackoff: true,
      retryDelayMax: 60,
      deleteAfterSeconds: 86_400,
    });
    await app.queue.work<{ id: string }>(HUB_BROADCASTS_QUEUE, { batchSize: 1, localConcurrency: 2 }, async ([job]) =>
      broadcasts.send(job!.data.id),
    );

    const tags = ['hub'];
    app.post(
      '/v1/hub/broadcasts',
      {
        config: { permission: 'marketing.write' },
        bodyLimit: options.bodyLimit,
        schema: {
          tags,
          summary: "Broadcast on one of the hub's WhatsApp numbers to a list or a CRM segment (202)",
          description:
            'A template (or, inside the 24 h window, a message) at marketing priority. It waits in control until the ' +
            'engine takes it; the engine removes duplicates and opt-outs and keeps the messaging limit.',
          body: CreateHubBroadcastRequest,
          response: { 202: HubBroadcast },
        },
      },
      async (req, reply) => {
        const created = await broadcasts.create(req.body, req.operator?.id ?? null);
        void reply.status(202);
        return created;
      },
    );
    app.get(
      '/v1/hub/broadcasts',
      {
        config: { permission: 'marketing.read' },
        schema: {
          tags,
          summary: "The hub's broadcasts, newest first",
          querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })) }),
          response: { 200: Type.Array(HubBroadcast) },
        },
      },
      async (req) => broadcasts.list(req.query.limit ?? 100),
    );
    app.get(
      '/v1/hub/broadcasts/:id',
      {
        config: { permission: 'marketing.read' },
        schema: {
          tags,
          summary: 'A broadcast of the hub, with its totals',
          params: BroadcastParams,
          response: { 200: HubBroadcast },
        },
      },
      async (req) => broadcasts.get(req.params.id),
    );
    for (const action of ['pause', 'resume', 'cancel'] as const) {
      app.post(
        `/v1/hub/broadcasts/:id/${action}`,
        {
          config: { permission: 'marketing.write' },
          schema: {
            tags,
            summary: `${action[0]!.toUpperCase()}${action.slice(1)} a broadcast of the hub`,
            params: BroadcastParams,
            response: { 200: HubBroadcast },
          },
        },
        async (req) => broadcasts.act(req.params.id, action),
      );
    }
  },
  { name: 'hub-broadcasts', dependencies: ['auth', 'engine', 'hub', 'crm'] },
);
